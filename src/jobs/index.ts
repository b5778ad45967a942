// Jobs: job specifications (parsed and normalised at the edge), resource quantities, and the
// environment a job's processes get. The lifecycle, leases and executors are added beside these.
export { parseJobSpec, normaliseJobSpec, jobArgv, jobSpecToInput, JOB_SPEC_LIMITS, JOB_SPEC_DEFAULTS, BUILTIN_PAYLOAD_FILE, BUILTIN_RESULT_FILE } from './spec.ts';
export { PRIORITY_CLASSES, ACCELERATOR_KINDS, JOB_KINDS, KIND_PAYLOAD_FIELD } from './spec-types.ts';
export type {
  JobSpec,
  JobSpecOptions,
  Resources,
  AcceleratorKind,
  AcceleratorRequest,
  Backoff,
  InlineFile,
  SecretRef,
  PriorityClass,
  JobKind,
  GangTopology,
} from './spec-types.ts';
export { DANGEROUS_ENV, DANGEROUS_ENV_PREFIXES, ENV_NAME_RE, GANG_ENV_NAMES, dangerousEnvReason, gangEnv, upperSnake } from './spec-env.ts';
export type { GangEnv } from './spec-env.ts';
export { checkRelativePath, MAX_PATH_BYTES, MAX_SEGMENT_BYTES } from './spec-paths.ts';
export type { PathResult } from './spec-paths.ts';
export type { Problem as SpecProblem } from '../kernel/index.ts';
export { MAX_REPORTED_PROBLEMS } from '../kernel/index.ts';
export { parseCpu, parseMemory, formatCpu, formatMemory, tryParseCpu, tryParseMemory, MAX_CPU_MILLIS, MAX_MEMORY_BYTES } from './quantity.ts';
export type { QuantityResult } from './quantity.ts';
export { JobService, backoffSeconds } from './job-service.ts';
export type { JobServiceOptions } from './job-service.ts';
export * from './model.ts';
export { jobRoutes } from './routes.ts';
export { carbonRoutes } from './carbon-routes.ts';
export { JobArtifacts, projectBlobStores, ARTIFACT_LIMITS } from './artifacts.ts';
export type { JobRoutesDeps } from './routes.ts';
export { startControllers } from './controllers.ts';
export type { Controllers, ControllerOptions } from './controllers.ts';
export { jobBlobReferences } from './blob-references.ts';
