// The tracking model: experiments, runs, metrics (full history plus the latest value per key),
// params (write-once), tags (last write wins) and dataset inputs. These are the domain types both
// front ends (the Strata API and the MLflow REST API) map from; times are epoch milliseconds, as
// MLflow has them on the wire.
import type { Brand, ProjectId } from '../kernel/index.ts';

export type ExperimentId = Brand<string, 'ExperimentId'>;
export type RunId = Brand<string, 'RunId'>;
export type DatasetId = Brand<string, 'DatasetId'>;

export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses that end a run: moving into one is audited as `run.terminate` and sets the end time. */
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['FINISHED', 'FAILED', 'KILLED']);

export const LIFECYCLE_STAGES = ['active', 'deleted'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

export const VIEW_TYPES = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'] as const;
export type ViewType = (typeof VIEW_TYPES)[number];

export function isRunStatus(s: unknown): s is RunStatus {
  return typeof s === 'string' && (RUN_STATUSES as readonly string[]).includes(s);
}
export function isViewType(s: unknown): s is ViewType {
  return typeof s === 'string' && (VIEW_TYPES as readonly string[]).includes(s);
}

/** Lifecycle stages a view type selects. */
export function stagesOf(view: ViewType): readonly LifecycleStage[] {
  switch (view) {
    case 'ACTIVE_ONLY':
      return ['active'];
    case 'DELETED_ONLY':
      return ['deleted'];
    case 'ALL':
      return ['active', 'deleted'];
  }
}

export interface Tag {
  readonly key: string;
  readonly value: string;
}
export type Param = Tag;

/** One metric point. `value` may be NaN or ±Infinity (MLflow allows them). */
export interface Metric {
  readonly key: string;
  readonly value: number;
  readonly timestamp: number;
  readonly step: number;
}

export interface Experiment {
  readonly id: ExperimentId;
  readonly projectId: ProjectId;
  readonly name: string;
  readonly artifactLocation: string;
  readonly lifecycleStage: LifecycleStage;
  readonly creationTime: number;
  readonly lastUpdateTime: number;
  /** The project's default experiment (MLflow's experiment "0"). */
  readonly isDefault: boolean;
  readonly tags: readonly Tag[];
}

export interface RunInfo {
  readonly id: RunId;
  readonly experimentId: ExperimentId;
  readonly projectId: ProjectId;
  readonly name: string;
  readonly userId: string;
  readonly status: RunStatus;
  readonly startTime: number;
  readonly endTime: number | null;
  readonly artifactUri: string;
  readonly lifecycleStage: LifecycleStage;
}

export interface Dataset {
  readonly name: string;
  readonly digest: string;
  readonly sourceType: string;
  readonly source: string;
  readonly schema: string | null;
  readonly profile: string | null;
}

export interface DatasetInput {
  readonly tags: readonly Tag[];
  readonly dataset: Dataset;
}

export interface Run {
  readonly info: RunInfo;
  readonly data: {
    /** The latest value of each metric key (highest step, then timestamp, then value). */
    readonly metrics: readonly Metric[];
    readonly params: readonly Param[];
    readonly tags: readonly Tag[];
  };
  readonly inputs: readonly DatasetInput[];
}

/** A metric point of a bulk-interval read, with the run it belongs to. */
export interface RunMetric extends Metric {
  readonly runId: RunId;
}

/** Where a run or experiment lives: what the authorisation gate needs to decide on it. */
export interface TrackingScope {
  readonly projectId: ProjectId;
  readonly experimentId: ExperimentId;
}

/** System tags MLflow clients read and write. */
export const SYSTEM_TAGS = {
  parentRunId: 'mlflow.parentRunId',
  runName: 'mlflow.runName',
  user: 'mlflow.user',
  loggedModels: 'mlflow.log-model.history',
  datasetContext: 'mlflow.data.context',
} as const;

/** MLflow's limits (mlflow/utils/validation.py, research note §5), enforced by both front ends. */
export const LIMITS = {
  keyLength: 250,
  paramValueLength: 6000,
  runTagValueLength: 8000,
  experimentTagValueLength: 5000,
  experimentNameLength: 500,
  runNameLength: 500,
  batchMetrics: 1000,
  batchParams: 100,
  batchTags: 100,
  batchTotal: 1000,
  batchBytes: 1024 * 1024,
  datasetNameLength: 500,
  datasetDigestLength: 36,
  datasetSourceTypeLength: 36,
  datasetSourceLength: 65535,
  datasetSchemaLength: 1048575,
  datasetProfileLength: 16384,
  inputTagKeyLength: 255,
  inputTagValueLength: 500,
  searchRunsDefault: 1000,
  searchRunsMax: 50_000,
  searchExperimentsDefault: 1000,
  searchExperimentsMax: 50_000,
  metricHistoryPage: 25_000,
  bulkIntervalRuns: 100,
  bulkIntervalDefault: 320,
  bulkIntervalMax: 25_000,
} as const;

/**
 * The params/tags (key, value) indexes cover this prefix of the value (PostgreSQL caps an index
 * entry at ~2.7 kB); equality filters compare the prefix too so the planner can use them. Must equal
 * TAG_VALUE_INDEX_PREFIX in store/migrations-tracking.ts (a test checks the plan uses the index).
 */
export const VALUE_INDEX_PREFIX = 100;

/** Experiment ids as MLflow accepts them. Ours are decimal; "0" names the project's default experiment. */
export const EXPERIMENT_ID_PATTERN = '^[a-zA-Z0-9][\\w\\-]{0,63}$';
/** Run ids as MLflow accepts them (ours are 32 lower-case hex digits). */
export const RUN_ID_PATTERN = '^[a-zA-Z0-9][\\w\\-]{0,255}$';
export const DEFAULT_EXPERIMENT_ALIAS = '0';
export const DEFAULT_EXPERIMENT_NAME = 'Default';

/** The artifact location of an experiment and the artifact root of a run (served by the artifact proxy). */
export const artifactLocationOf = (id: ExperimentId): string => `mlflow-artifacts:/${id}`;
export const artifactUriOf = (experimentId: ExperimentId, runId: RunId): string => `mlflow-artifacts:/${experimentId}/${runId}/artifacts`;
