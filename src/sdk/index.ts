// The SDK: a typed HTTP client. Imports nothing from the server side.
export { StrataClient, StrataApiError, seg } from './client.ts';
export type { ClientOptions } from './client.ts';
export { JobsClient, JobWaitTimeoutError, parseSpecText } from './jobs.ts';
export type { LogsOptions, SubmitOptions, WaitOptions } from './jobs.ts';
export { TrackingClient } from './tracking.ts';
export type { DatasetInput, KeyValues, LogBatchInput, MetricInput, SearchInput, SearchRunsInput } from './tracking.ts';
export { RegistryClient } from './registry.ts';
export type { CreateVersionInput, SearchModelsInput } from './registry.ts';
export { JOB_STATES, TERMINAL_JOB_STATES, metricNumber } from './types.ts';
export type * from './types.ts';
