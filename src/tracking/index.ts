// Tracking: experiments, runs, metrics (history and latest), params, tags, dataset inputs, and
// MLflow's search grammar compiled to SQL. Front ends: routes.ts (Strata API) and api/mlflow.
export * from './model.ts';
export { TrackingService, randomTrackingIds, generatedRunName } from './tracking-service.ts';
export type { TrackingIds, ProjectRef, Page, SearchRunsInput, SearchExperimentsInput, CreateRunInput, UpdateRunInput, LogBatchInput } from './tracking-service.ts';
export { parseRunFilter, parseExperimentFilter, parseRunOrderBy, parseExperimentOrderBy, encodePageToken, decodePageToken } from './search-filter.ts';
export type { RunClause, ExperimentClause, RunOrderKey, OrderTerm, FilterError, ParseResult } from './search-filter.ts';
export { TRACKING_ACTIONS, trackingRoutes } from './routes.ts';
export type { TrackingRoutesDeps } from './routes.ts';
export { RunArtifacts, RUN_ARTIFACT_LIMITS, mayWriteRun } from './run-artifacts.ts';
export type { RunArtifactFile, RunArtifactUpload, RunArtifactPage, OpenedRunArtifact, RunArtifactRoot } from './run-artifacts.ts';
export { artifactRoutes, listingJson, DIGEST_HEADER } from './artifact-routes.ts';
export type { ArtifactRoutesDeps } from './artifact-routes.ts';
export { serveRunArtifact } from './artifact-http.ts';
export type { ArtifactResponse } from './artifact-http.ts';
export { LoggedModels, NO_REGISTRATIONS, randomLoggedModelIds, loggedModelArtifactUriOf, noLoggedModel, LOGGED_MODEL_STATUSES, FINAL_LOGGED_MODEL_STATUSES, LOGGED_MODEL_ID_PATTERN, LOGGED_MODEL_LIMITS } from './logged-models.ts';
export type {
  LoggedModel,
  LoggedModelId,
  LoggedModelInfo,
  LoggedModelMetric,
  LoggedModelStatus,
  FinalLoggedModelStatus,
  LoggedModelRegistration,
  LoggedModelScope,
  LoggedModelIds,
  LoggedModelOrderBy,
  ModelMetricInput,
  ModelRegistrations,
  ModelOutput,
  RunModels,
  CreateLoggedModelInput,
  SearchLoggedModelsInput,
} from './logged-models.ts';
export type { DatasetRef } from './logged-model-sql.ts';
export { LoggedModelArtifacts } from './logged-model-artifacts.ts';
export type { LoggedModelArtifactRoot } from './logged-model-artifacts.ts';
export { parseLoggedModelFilter } from './search-filter.ts';
export type { LoggedModelClause } from './search-filter.ts';
export { trackingBlobReferences } from './blob-references.ts';
