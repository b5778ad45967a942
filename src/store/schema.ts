// Table types for Kysely. Times are ISO-8601 text in both databases (sortable, identical on the
// wire); booleans are integers 0/1 so one schema serves SQLite and PostgreSQL.
import type { ColumnType } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

export interface TeamsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ProjectsTable {
  id: string;
  name: string;
  team_id: string;
  created_at: string;
}

export interface PrincipalsTable {
  id: string;
  kind: string; // 'user' | 'service_account' | 'node'
  name: string;
  display_name: string;
  platform_admin: number;
  created_at: string;
  disabled_at: string | null;
}

export interface TokensTable {
  id: string;
  principal_id: string;
  name: string;
  hash: string;
  prefix: string;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  /** JSON TokenScope: the token may act only within it (e.g. log to one run). Null = the principal's roles. */
  scope: string | null;
}

export interface RoleBindingsTable {
  id: string;
  principal_id: string;
  role: string; // 'viewer' | 'editor' | 'admin'
  scope_kind: string; // 'team' | 'project'
  scope_id: string;
  created_at: string;
  created_by: string;
}

export interface AuditEventsTable {
  seq: number;
  v: number;
  time: string;
  actor: string;
  action: string;
  resource: string;
  project: string | null;
  outcome: string;
  request_id: string | null;
  before_hash: string | null;
  after_hash: string | null;
  details: string; // JSON
  leaf_hash: string; // hex
}

export interface SecretsTable {
  project_id: string;
  name: string;
  version: number;
  ciphertext: string | null; // null once destroyed
  wrapped_key: string | null;
  kek_version: number;
  created_at: string;
  created_by: string;
  destroyed_at: string | null;
}

export interface NodesTable {
  id: string;
  name: string;
  principal_id: string;
  region: string;
  pool: string;
  capacity: string; // JSON NodeCapacity
  labels: string; // JSON
  state: string; // 'ready' | 'draining' | 'lost'
  registered_at: string;
  heartbeat_at: string;
  agent_version: string;
  /** Host or IP its peers reach it at (MASTER_ADDR of gangs whose rank 0 it runs); null = its name. */
  address: string | null;
}

/** Where each replica of a placed or running gang runs; the rows go when the gang's attempt ends. */
export interface JobReplicasTable {
  job_id: string;
  replica: number;
  node_id: string;
  /** MASTER_PORT of the gang's attempt (chosen free among the gangs whose rank 0 shares the node). */
  master_port: number;
  /** The replica's attempt once its node leased it; null while it waits to be leased. */
  attempt_id: string | null;
}

export interface JobsTable {
  id: string;
  project_id: string;
  name: string;
  spec: string; // JSON JobSpec
  state: string;
  priority: number;
  attempts: number;
  max_attempts: number;
  node_id: string | null;
  next_run_at: string;
  cancel_requested: number;
  reason: string;
  exit_code: number | null;
  created_at: string;
  created_by: string;
  updated_at: string;
  finished_at: string | null;
  /** spec.replicas: > 1 is a gang, placed through job_replicas. */
  replicas: number;
}

export interface AttemptsTable {
  id: string;
  job_id: string;
  number: number;
  /** The gang replica (rank) this row runs; 0 for a single-replica job. */
  replica: number;
  node_id: string;
  lease_token: string;
  lease_expires_at: string;
  state: string; // 'running' | 'succeeded' | 'failed' | 'lost' | 'cancelled' | 'preempted'
  started_at: string;
  ended_at: string | null;
  exit_code: number | null;
  reason: string;
  usage: string; // JSON: cpu seconds, peak memory, energy, carbon
  /** The tracking run this attempt logs to (null: tracking was unavailable). */
  run_id: string | null;
}

export interface JobLogsTable {
  job_id: string;
  seq: number;
  attempt: number;
  /** The gang replica that wrote it (0 for a single-replica job). */
  replica: number;
  time: string;
  stream: string; // 'stdout' | 'stderr' | 'system'
  data: string;
}

export interface JobEventsTable {
  job_id: string;
  seq: number;
  time: string;
  from_state: string;
  to_state: string;
  reason: string;
}

// ---- tracking (migration 0003) ----

export interface ExperimentsTable {
  id: string;
  project_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string; // 'active' | 'deleted'
  is_default: number;
  creation_time: number; // epoch ms
  last_update_time: number;
  created_by: string;
}

export interface ExperimentTagsTable {
  experiment_id: string;
  key: string;
  value: string;
}

export interface RunsTable {
  id: string;
  experiment_id: string;
  project_id: string;
  name: string;
  user_id: string;
  status: string; // RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
  start_time: number; // epoch ms
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
  created_by: string;
  /** Goes up by one in every transaction that changes the run's MLflow document (migration 0015). */
  version: ColumnType<number, number | undefined, number>;
}

export interface RunParamsTable {
  run_id: string;
  experiment_id: string;
  key: string;
  value: string;
}

export type RunTagsTable = RunParamsTable;

export interface RunMetricBatchesTable {
  run_id: string;
  digest: string;
  keys: string;
  points: number;
  data: Buffer;
}

export interface RunMetricChunksTable {
  run_id: string;
  key: string;
  first_step: number;
  last_step: number;
  points: number;
  digest: string;
  data: Buffer;
}

export interface RunLatestMetricsTable {
  run_id: string;
  experiment_id: string;
  key: string;
  step: number;
  timestamp: number;
  value: number | null; // null when is_nan
  is_nan: number;
}

export interface DatasetsTable {
  id: string;
  experiment_id: string;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
  created_time: number;
}

export interface RunInputsTable {
  run_id: string;
  dataset_id: string;
}

export interface RunInputTagsTable {
  run_id: string;
  dataset_id: string;
  key: string;
  value: string;
}

export interface JobArtifactsTable {
  attempt_id: string;
  /** `output` or `checkpoint`. */
  kind: string;
  /** Normalised relative path in the attempt's tree. */
  path: string;
  job_id: string;
  project_id: string;
  attempt: number;
  /** `sha256:<hex>` in the project's blob store. */
  digest: string;
  size: number;
  created_at: string;
}

/** A run's artifact tree: (run, normalised path) → content digest in the project's blob store. */
export interface RunArtifactsTable {
  run_id: string;
  /** Normalised relative path (blobs/artifact-path.ts); directories are implied. */
  path: string;
  project_id: string;
  /** `sha256:<hex>` in the project's blob store. */
  digest: string;
  size: number;
  /** Epoch milliseconds (tracking's time unit). */
  created_at: number;
}

// ---- registry (migration 0006) ----

export interface RegisteredModelsTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  /** The number the next version gets; never decreases, so numbers are not reused after a delete. */
  next_version: number;
  creation_time: number; // epoch ms
  last_updated_time: number;
  created_by: string;
}

export interface RegisteredModelTagsTable {
  model_id: string;
  key: string;
  value: string;
}

export interface ModelVersionsTable {
  model_id: string;
  version: number;
  project_id: string;
  description: string;
  source: string;
  run_id: string | null;
  run_link: string;
  status: string; // READY | PENDING_REGISTRATION | FAILED_REGISTRATION
  status_message: string;
  stage: string; // None | Staging | Production | Archived
  creation_time: number;
  last_updated_time: number;
  user_id: string;
  manifest_digest: string; // sha256:<hex> of the canonical JSON of the sorted file list
  file_count: number;
  total_size: number;
  signature: string | null; // JSON {inputs, outputs, params}
  logged_model_id: string | null;
  provenance: string; // canonical JSON of the provenance record
  provenance_seq: number; // audit seq of the entry that records it
}

export interface ModelVersionFilesTable {
  model_id: string;
  version: number;
  path: string;
  digest: string;
  size: number;
}

export interface ModelVersionTagsTable {
  model_id: string;
  version: number;
  key: string;
  value: string;
}

export interface ModelAliasesTable {
  model_id: string;
  alias: string;
  version: number;
}

export interface ModelCardsTable {
  model_id: string;
  version: number;
  card: string; // JSON
  updated_time: number;
  updated_by: string;
}

export interface PromotionGatesTable {
  project_id: string;
  alias: string;
  policy: string; // JSON {requireModelCard, metrics}
  updated_time: number;
  updated_by: string;
}

export interface Database {
  logged_models: LoggedModelsTable;
  logged_model_params: LoggedModelParamsTable;
  logged_model_tags: LoggedModelTagsTable;
  logged_model_metrics: LoggedModelMetricsTable;
  logged_model_artifacts: LoggedModelArtifactsTable;
  run_model_outputs: RunModelOutputsTable;
  run_model_inputs: RunModelInputsTable;
  mlflow_multipart_uploads: MlflowMultipartUploadsTable;
  mlflow_multipart_parts: MlflowMultipartPartsTable;
  registered_models: RegisteredModelsTable;
  registered_model_tags: RegisteredModelTagsTable;
  model_versions: ModelVersionsTable;
  model_version_files: ModelVersionFilesTable;
  model_version_tags: ModelVersionTagsTable;
  model_aliases: ModelAliasesTable;
  model_cards: ModelCardsTable;
  promotion_gates: PromotionGatesTable;
  run_artifacts: RunArtifactsTable;
  experiments: ExperimentsTable;
  experiment_tags: ExperimentTagsTable;
  runs: RunsTable;
  run_params: RunParamsTable;
  run_tags: RunTagsTable;
  /** Metric history, a chunk of points per (run, key, batch) (metric-chunks.ts). */
  run_metric_chunks: RunMetricChunksTable;
  /** Small batches waiting to be packed into chunks, a row each (tracking/metric-history.ts). */
  run_metric_batches: RunMetricBatchesTable;
  run_latest_metrics: RunLatestMetricsTable;
  datasets: DatasetsTable;
  run_inputs: RunInputsTable;
  run_input_tags: RunInputTagsTable;
  nodes: NodesTable;
  jobs: JobsTable;
  attempts: AttemptsTable;
  job_replicas: JobReplicasTable;
  job_logs: JobLogsTable;
  job_events: JobEventsTable;
  job_artifacts: JobArtifactsTable;
  strata_meta: MetaTable;
  teams: TeamsTable;
  projects: ProjectsTable;
  principals: PrincipalsTable;
  tokens: TokensTable;
  role_bindings: RoleBindingsTable;
  audit_events: AuditEventsTable;
  secrets: SecretsTable;
}

// ---- logged models (migration 0009, MLflow 3.x) ----

/** An MLflow 3.x logged model: a model of an experiment, with its own params, tags, metrics and artifact tree. */
export interface LoggedModelsTable {
  /** `m-<32 hex>`. */
  id: string;
  experiment_id: string;
  project_id: string;
  name: string;
  /** `mlflow-artifacts:/<experiment>/models/<id>/artifacts` (served by the artifact proxy). */
  artifact_location: string;
  creation_timestamp_ms: number;
  last_updated_timestamp_ms: number;
  /** LoggedModelStatus by name: LOGGED_MODEL_PENDING | LOGGED_MODEL_READY | LOGGED_MODEL_UPLOAD_FAILED. */
  status: string;
  status_message: string;
  /** '' when not given. */
  model_type: string;
  source_run_id: string | null;
  /** active | deleted (soft delete, like runs). */
  lifecycle_stage: string;
  created_by: string;
}

export interface LoggedModelParamsTable {
  model_id: string;
  experiment_id: string;
  key: string;
  value: string;
}

export interface LoggedModelTagsTable {
  model_id: string;
  experiment_id: string;
  key: string;
  value: string;
}

/** Metric points logged with a `model_id` (the run keeps its own copy in its history). */
export interface LoggedModelMetricsTable {
  model_id: string;
  key: string;
  timestamp: number;
  step: number;
  /** 0 when is_nan = 1. */
  value: number;
  is_nan: number;
  run_id: string;
  /** '' when the point names no dataset. */
  dataset_name: string;
  dataset_digest: string;
  experiment_id: string;
}

/** A logged model's artifact tree: (model, normalised path) → content digest in the project's blob store. */
export interface LoggedModelArtifactsTable {
  model_id: string;
  path: string;
  project_id: string;
  digest: string;
  size: number;
  /** Epoch milliseconds. */
  created_at: number;
}

/** MLflow 3.x run outputs: the logged models a run produced, at a step. */
export interface RunModelOutputsTable {
  run_id: string;
  model_id: string;
  step: number;
}

/** MLflow 3.x run inputs: the logged models a run took as inputs (LogInputs `models`). */
export interface RunModelInputsTable {
  run_id: string;
  model_id: string;
}

/** An MLflow artifact-proxy multipart upload in progress (migration 0011). */
export interface MlflowMultipartUploadsTable {
  /** 32 lower-case hex digits: also the name of its staging directory. */
  id: string;
  project_id: string;
  /** 'run' or 'model': whose artifact tree the file goes to. */
  target_kind: string;
  /** The run id or the logged model id. */
  target_id: string;
  experiment_id: string;
  /** The file's normalised path inside that tree. */
  path: string;
  num_parts: number;
  /** HMAC key of the upload's presigned part URLs (hex). */
  secret: string;
  created_by: string;
  /** Epoch milliseconds. */
  created_at: number;
  /** Epoch milliseconds: the part URLs stop working and the collector removes the upload. */
  expires_at: number;
  /** Epoch milliseconds: when the running complete claimed the upload (migration 0013); null when none runs. */
  completing_at: ColumnType<number | null, number | null | undefined, number | null>;
}

/** A received part of a multipart upload: its digest (the ETag) and size. */
export interface MlflowMultipartPartsTable {
  upload_id: string;
  part_number: number;
  /** sha256 hex of the part's bytes. */
  etag: string;
  size: number;
  created_at: number;
}
