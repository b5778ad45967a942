// The wire shapes of the Strata-native HTTP API, as the SDK's typed clients send and receive them.
// The SDK imports nothing from the server side (test/architecture.test.ts), so these are stated
// here; test/sdk.test.ts calls every route and checks that each answer has exactly these fields.
// Responses are the server's JSON unchanged: times in `createdAt`-style fields are ISO 8601 text,
// tracking and registry times are epoch milliseconds (as MLflow has them), and metric values that
// JSON cannot carry arrive as the strings "NaN", "Infinity" and "-Infinity" (see `metricNumber`).
import type { AttemptId, JobId, NodeId } from '../kernel/index.ts';

// ---- common ------------------------------------------------------------------------------------

/** A page of a paged listing: the items under the route's own key, and the token of the next page. */
export type Page<K extends string, T> = { readonly [P in K]: readonly T[] } & {
  /** Pass back as `pageToken` for the next page; null on the last page. */
  readonly nextPageToken: string | null;
};

/** Key → value, as tags, params and labels travel. */
export type StringMap = Readonly<Record<string, string>>;

/** A file streamed from the server (a run artifact, a job output, a model file). */
export interface Download {
  readonly body: ReadableStream<Uint8Array>;
  /** Bytes in this response (`content-length`); for a range request, the length of the range. */
  readonly size: number | undefined;
  /** `sha256:<hex>` of the whole file (the ETag), when the server sent one. */
  readonly digest: string | undefined;
  /** 200 for the whole file, 206 for a range. */
  readonly status: number;
  /** The response itself, for any other header. */
  readonly response: Response;
}

/** A byte range of a download: `start` inclusive, `end` exclusive (absent: to the end of the file). */
export interface ByteRange {
  readonly start: number;
  readonly end?: number | undefined;
}

/** What an upload body may be: a stream or an iterable of chunks (streamed; memory stays flat), or bytes or text held already. */
export type UploadBody = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array | string;

// ---- jobs ----------------------------------------------------------------------------------------

export const JOB_STATES = ['queued', 'admitted', 'placed', 'running', 'succeeded', 'failed', 'cancelled', 'preempted'] as const;
export type JobState = (typeof JOB_STATES)[number];
/** States a job never leaves (`preempted` is not one: the job is queued again). */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>(['succeeded', 'failed', 'cancelled']);

export type AttemptState = 'running' | 'succeeded' | 'failed' | 'lost' | 'cancelled' | 'preempted';
export type PriorityClass = 'low' | 'normal' | 'high' | 'critical';
export type JobKind = 'process' | 'quantum-circuit' | 'spiking-network';
export type AcceleratorKind = 'gpu' | 'tpu' | 'fpga' | 'ipu' | 'quantum-sim' | 'neuromorphic';
export type ArtifactKind = 'output' | 'checkpoint';

/**
 * A job spec as submitted (`strata run -f job.yaml` reads the same fields): everything but `name`
 * and `command` has a default. The server checks it and answers 400 naming each bad field.
 */
export interface JobSpecInput {
  /** 1–63 lower-case letters, digits, '-', '_' or '.'. */
  readonly name: string;
  /** Default `process`; the built-in engines take `quantum` or `spiking` instead of a command. */
  readonly kind?: JobKind | undefined;
  /** The program and its arguments (no shell), or with `shell: true` one script for /bin/sh -c. */
  readonly command?: readonly string[] | string | undefined;
  readonly args?: readonly string[] | undefined;
  readonly shell?: boolean | undefined;
  readonly workingDir?: string | undefined;
  /** Small files written before the command starts; `fromFile` is resolved by `submit`'s `readFile`. */
  readonly files?: readonly { readonly path: string; readonly content?: string | undefined; readonly fromFile?: string | undefined; readonly executable?: boolean | undefined }[] | undefined;
  readonly env?: StringMap | undefined;
  readonly resources?:
    | {
        /** e.g. `100m`, `0.5`, `2`. Default one core. */
        readonly cpu?: string | number | undefined;
        /** e.g. `64Mi`, `1Gi`, `500M`. Default 512Mi. */
        readonly memory?: string | number | undefined;
        readonly accelerators?: { readonly kind: AcceleratorKind; readonly count?: number | undefined; readonly flavors?: readonly string[] | undefined; readonly qubits?: number | undefined; readonly neurons?: number | undefined } | undefined;
      }
    | undefined;
  readonly replicas?: number | undefined;
  readonly topology?: { readonly level: 'rack' | 'block'; readonly mode: 'preferred' | 'required' } | undefined;
  readonly priorityClass?: PriorityClass | undefined;
  readonly preemptible?: boolean | undefined;
  readonly maxAttempts?: number | undefined;
  readonly backoff?: { readonly initialSeconds?: number | undefined; readonly maxSeconds?: number | undefined } | undefined;
  readonly maxRuntimeSeconds?: number | undefined;
  /** ISO 8601. */
  readonly deadline?: string | undefined;
  readonly maxStartDelaySeconds?: number | undefined;
  readonly regions?: readonly string[] | undefined;
  readonly dataResidency?: readonly string[] | undefined;
  /** `true` for the default directory, or a relative path. */
  readonly checkpointDir?: string | boolean | undefined;
  /** Project secrets given as environment variables: a name, or `{name, env}`. */
  readonly secrets?: readonly (string | { readonly name: string; readonly env?: string | undefined })[] | undefined;
  /** Relative paths uploaded after each attempt (see `JobsClient.artifacts`). */
  readonly outputs?: readonly string[] | undefined;
  readonly labels?: StringMap | undefined;
  /** Input of a `quantum-circuit` job. */
  readonly quantum?: Readonly<Record<string, unknown>> | undefined;
  /** Input of a `spiking-network` job. */
  readonly spiking?: Readonly<Record<string, unknown>> | undefined;
}

export type AcceleratorRequest =
  | { readonly kind: 'gpu' | 'tpu' | 'fpga' | 'ipu'; readonly count: number; readonly flavors: readonly string[] }
  | { readonly kind: 'quantum-sim'; readonly count: number; readonly flavors: readonly string[]; readonly qubits?: number }
  | { readonly kind: 'neuromorphic'; readonly count: number; readonly flavors: readonly string[]; readonly neurons?: number };

/** A job spec as the server stores it: every default filled in, quantities as integers. */
export interface JobSpec {
  readonly name: string;
  readonly kind: JobKind;
  readonly payload?: Readonly<Record<string, unknown>>;
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly shell: boolean;
  readonly workingDir: string;
  readonly files: readonly { readonly path: string; readonly content: string; readonly executable: boolean }[];
  readonly env: StringMap;
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number; readonly accelerators?: AcceleratorRequest };
  readonly replicas: number;
  readonly topology?: { readonly level: 'rack' | 'block'; readonly mode: 'preferred' | 'required' };
  readonly priorityClass: PriorityClass;
  readonly preemptible: boolean;
  readonly maxAttempts: number;
  readonly backoff: { readonly initialSeconds: number; readonly maxSeconds: number };
  readonly maxRuntimeSeconds?: number;
  readonly deadline?: string;
  readonly maxStartDelaySeconds?: number;
  readonly regions: readonly string[];
  readonly dataResidency: readonly string[];
  readonly checkpointDir?: string;
  readonly secrets: readonly { readonly name: string; readonly env: string }[];
  readonly outputs: readonly string[];
  readonly labels: StringMap;
}

/** A gang replica's placement (a placed or running job with replicas > 1). */
export interface ReplicaPlacement {
  readonly replica: number;
  readonly nodeId: NodeId;
  readonly attemptId: AttemptId | null;
}

/** A job, as submit, list and cancel answer it. */
export interface JobInfo {
  readonly id: JobId;
  readonly project: string;
  readonly name: string;
  readonly state: JobState;
  readonly reason: string;
  /** Attempts started so far. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly nodeId: NodeId | null;
  readonly exitCode: number | null;
  readonly cancelRequested: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
  readonly spec: JobSpec;
  readonly placement?: readonly ReplicaPlacement[];
}

/** Resource use, energy and carbon the agent measured for an attempt. */
export interface AttemptUsage {
  readonly cpuSeconds?: number;
  readonly peakMemoryBytes?: number;
  readonly wallSeconds?: number;
  readonly energy?: Readonly<Record<string, unknown>>;
  readonly carbon?: Readonly<Record<string, unknown>>;
}

export interface AttemptInfo {
  readonly id: AttemptId;
  readonly number: number;
  readonly replica: number;
  readonly nodeId: NodeId;
  readonly node: string;
  readonly state: AttemptState;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly leaseExpiresAt: string;
  readonly exitCode: number | null;
  readonly reason: string;
  readonly usage: AttemptUsage;
}

/** One state transition of a job. */
export interface JobEvent {
  readonly seq: number;
  readonly time: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/** A job with its attempts and transitions (GET of one job). */
export interface JobDetail extends JobInfo {
  readonly attemptList: readonly AttemptInfo[];
  readonly events: readonly JobEvent[];
}

export interface LogChunk {
  readonly seq: number;
  readonly attempt: number;
  readonly replica: number;
  readonly time: string;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly data: string;
}

/** A page of logs: chunks after a sequence number, the number to continue after, and whether that was all. */
export interface LogPage {
  readonly chunks: readonly LogChunk[];
  readonly next: number;
  /** The job has ended and every chunk has been read. */
  readonly done: boolean;
}

/** An output or checkpoint file an attempt stored. */
export interface JobArtifact {
  readonly path: string;
  readonly digest: string;
  readonly size: number;
  readonly attempt: number;
  readonly kind: ArtifactKind;
  readonly createdAt: string;
}

// ---- tracking ------------------------------------------------------------------------------------

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export type LifecycleStage = 'active' | 'deleted';
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
/** A metric value on the wire: a number, or one of the strings JSON needs for non-finite values. */
export type MetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

export interface Experiment {
  /** Numeric text, e.g. "3". */
  readonly id: string;
  readonly name: string;
  readonly lifecycleStage: LifecycleStage;
  readonly artifactLocation: string;
  /** The project's default experiment (MLflow's experiment "0"). */
  readonly default: boolean;
  readonly creationTime: number;
  readonly lastUpdateTime: number;
  readonly tags: StringMap;
}

export interface Metric {
  readonly key: string;
  readonly value: MetricValue;
  readonly step: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
}

/** A run as PATCH answers it: without metrics, params, tags or inputs. */
export interface RunInfo {
  readonly id: string;
  readonly experimentId: string;
  readonly name: string;
  readonly status: RunStatus;
  readonly lifecycleStage: LifecycleStage;
  readonly userId: string;
  readonly startTime: number;
  readonly endTime: number | null;
  readonly artifactUri: string;
}

/** A dataset a run used. */
export interface RunInput {
  readonly name: string;
  readonly digest: string;
  readonly sourceType: string;
  readonly source: string;
  readonly schema: string | null;
  readonly profile: string | null;
  readonly tags: StringMap;
}

export interface Run extends RunInfo {
  readonly parentRunId: string | null;
  /** The latest value of each metric key. */
  readonly metrics: readonly Metric[];
  readonly params: StringMap;
  readonly tags: StringMap;
  readonly inputs: readonly RunInput[];
}

/** One entry of a run artifact directory listing. */
export type ArtifactEntry = { readonly path: string; readonly kind: 'file'; readonly size: number; readonly digest: string } | { readonly path: string; readonly kind: 'directory' };

export interface ArtifactListing {
  /** The run's artifact root (its artifactUri). */
  readonly root: string;
  /** The directory listed ('' for the root). */
  readonly path: string;
  readonly files: readonly ArtifactEntry[];
  readonly nextPageToken: string | null;
}

export interface UploadedArtifact {
  readonly path: string;
  readonly digest: string;
  readonly size: number;
  /** The same bytes were stored already (content-addressed): nothing new was written. */
  readonly deduplicated: boolean;
}

// ---- registry ------------------------------------------------------------------------------------

export type Stage = 'None' | 'Staging' | 'Production' | 'Archived';
export type VersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

export interface Signature {
  readonly inputs: string | null;
  readonly outputs: string | null;
  readonly params: string | null;
}

export interface ModelVersion {
  readonly name: string;
  readonly version: number;
  readonly status: VersionStatus;
  readonly stage: Stage;
  readonly description: string;
  readonly source: string;
  readonly runId: string | null;
  readonly runLink: string;
  /** `sha256:` of the pinned file list. */
  readonly manifestDigest: string;
  /** Number of pinned files. */
  readonly files: number;
  /** Total bytes of the pinned files. */
  readonly size: number;
  readonly signature: Signature | null;
  readonly aliases: readonly string[];
  readonly tags: StringMap;
  readonly userId: string;
  readonly creationTime: number;
  readonly lastUpdatedTime: number;
}

export interface RegisteredModel {
  readonly name: string;
  readonly description: string;
  readonly creationTime: number;
  readonly lastUpdatedTime: number;
  readonly tags: StringMap;
  /** Alias → version number. */
  readonly aliases: Readonly<Record<string, number>>;
  /** The newest version in each stage that has one. */
  readonly latestVersions: readonly ModelVersion[];
}

/** One pinned file of a model version. */
export interface ManifestFile {
  readonly path: string;
  readonly digest: string;
  readonly size: number;
}

export interface VersionFiles {
  readonly manifestDigest: string;
  readonly files: readonly ManifestFile[];
}

export interface FairnessEvaluation {
  readonly summary: string;
  readonly groups: readonly { readonly group: string; readonly metrics: Readonly<Record<string, number>> }[];
}

/** What a model card is set from: `intendedUse`, `data` and `limitations` are required. */
export interface ModelCardInput {
  readonly intendedUse: string;
  readonly data: string;
  readonly limitations: string;
  readonly metrics?: Readonly<Record<string, number>> | undefined;
  readonly fairness?: FairnessEvaluation | null | undefined;
}

export interface ModelCard {
  readonly intendedUse: string;
  readonly data: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly limitations: string;
  readonly fairness: FairnessEvaluation | null;
  readonly updatedTime: number;
  readonly updatedBy: string;
}

export type GateOp = '>=' | '>' | '<=' | '<' | '=';

export interface MetricThreshold {
  readonly key: string;
  readonly op: GateOp;
  readonly threshold: number;
}

export interface PromotionGateInput {
  readonly requireModelCard?: boolean | undefined;
  /** `op` defaults to `>=`. */
  readonly metrics?: readonly { readonly key: string; readonly op?: GateOp | undefined; readonly threshold: number }[] | undefined;
}

export interface PromotionGate {
  readonly alias: string;
  readonly requireModelCard: boolean;
  readonly metrics: readonly MetricThreshold[];
  readonly updatedTime: number;
  readonly updatedBy: string;
}

export type GateCheck =
  | { readonly kind: 'model-card'; readonly ok: boolean; readonly message: string }
  | { readonly kind: 'metric'; readonly key: string; readonly op: GateOp; readonly threshold: number; readonly value: number | null; readonly ok: boolean; readonly message: string };

export interface GateDecision {
  readonly alias: string;
  readonly allowed: boolean;
  readonly checks: readonly GateCheck[];
}

/** What checking a gate answers: the decision, and whether the alias has a gate at all (without one: allowed, no checks). */
export type GateCheckResult = GateDecision & { readonly gated: boolean };

/** What setting an alias answers: the gate's decision when the alias has a gate (a refusal is a 403 instead). */
export interface AliasSet {
  readonly alias: string;
  readonly version: number;
  readonly gate: GateDecision | null;
}

/** The provenance record a version's audit entry commits to. */
export interface ProvenanceRecord {
  readonly v: 1;
  readonly type: 'strata.model-version-provenance';
  readonly project: string;
  readonly model: { readonly id: string; readonly name: string; readonly version: number };
  readonly source: string;
  readonly manifestDigest: string;
  readonly files: number;
  readonly size: number;
  readonly run: { readonly id: string; readonly experimentId: string } | null;
  readonly codeRevision: string | null;
  readonly codeSource: string | null;
  readonly datasets: readonly { readonly name: string; readonly digest: string; readonly sourceType: string; readonly source: string }[];
  readonly metrics: readonly { readonly key: string; readonly value: number | string; readonly step: number }[];
  readonly createdAt: string;
  readonly createdBy: string;
}

export interface AuditEntry {
  readonly v: 1;
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
  readonly project: string | null;
  readonly outcome: 'success' | 'denied' | 'failure';
  readonly requestId: string | null;
  readonly beforeHash: string | null;
  readonly afterHash: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly leafHash?: string;
}

/** A signed tree head of the audit log (Ed25519 over the checkpoint). */
export interface SignedCheckpoint {
  readonly logId: string;
  readonly size: number;
  readonly root: string;
  readonly time: string;
  readonly signature: string;
  readonly keyId: string;
}

/**
 * Everything needed to verify a version independently (`strata models verify` does): the record,
 * its audit entry, an RFC 9162 inclusion proof, the signed checkpoint and the pinned files.
 */
export interface ProvenanceBundle {
  readonly name: string;
  readonly version: number;
  readonly record: ProvenanceRecord;
  readonly seq: number;
  readonly entry: AuditEntry;
  readonly checkpoint: SignedCheckpoint;
  readonly proof: { readonly index: number; readonly size: number; readonly leafHash: string; readonly root: string; readonly proof: readonly string[] };
  readonly files: readonly ManifestFile[];
  /** The log's public key (PEM) as the server reports it: pin it; do not trust it on its own. */
  readonly publicKey: string;
}

export type ProvenanceCheck = 'checkpoint' | 'entry' | 'inclusion' | 'record' | 'manifest' | 'files';

/** The server's verification of a version: every check passed, or the first that failed and why. */
export type ProvenanceVerdict =
  | { readonly ok: true; readonly seq: number; readonly manifestDigest: string; readonly checkpointSize: number; readonly root: string; readonly files: number }
  | { readonly ok: false; readonly failed: ProvenanceCheck; readonly reason: string };

export interface LineageRun {
  readonly id: string;
  readonly name: string;
  readonly experimentId: string;
  readonly status: string;
  /** The run's `mlflow.source.git.commit` tag. */
  readonly codeRevision: string | null;
  readonly parentRunId: string | null;
}

export interface LineageDataset {
  readonly name: string;
  readonly digest: string;
  readonly sourceType: string;
  readonly source: string;
  /** `training`, `evaluation`, … (the input's `mlflow.data.context` tag). */
  readonly context: string | null;
}

export interface LineageVersion {
  readonly name: string;
  readonly version: number;
  readonly runId: string | null;
  readonly manifestDigest: string;
  readonly aliases: readonly string[];
  readonly stage: Stage;
}

/** Upstream of a model version: its run and the datasets the run used. */
export interface VersionLineage {
  readonly modelVersion: { readonly name: string; readonly version: number; readonly manifestDigest: string; readonly source: string };
  readonly run: LineageRun | null;
  readonly datasets: readonly LineageDataset[];
}

/** A run with its datasets (upstream) and the model versions registered from it (downstream). */
export interface RunLineage {
  readonly run: LineageRun;
  readonly datasets: readonly LineageDataset[];
  readonly modelVersions: readonly LineageVersion[];
}

/** Downstream of a dataset digest: the datasets with it, the runs that used them, the versions they produced. */
export interface DatasetLineage {
  readonly datasets: readonly (LineageDataset & { readonly experimentId: string })[];
  readonly runs: readonly { readonly id: string; readonly name: string; readonly experimentId: string; readonly status: string; readonly context: string | null }[];
  readonly modelVersions: readonly LineageVersion[];
}

/** A metric value as a number (the wire's "NaN", "Infinity" and "-Infinity" strings become those numbers). */
export function metricNumber(v: MetricValue): number {
  return typeof v === 'number' ? v : Number(v);
}
