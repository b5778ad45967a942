// The MLflow REST front end: tracking endpoints at /api/2.0/mlflow/... and /ajax-api/2.0/mlflow/...,
// MLflow's error shape and statuses, its Content-Type rule, Bearer and Basic (token as password) auth.
export { mlflowRoutes, PROJECT_HEADER, MLFLOW_PREFIXES } from './routes.ts';
export type { MlflowRoutesDeps } from './routes.ts';
export { RunDocuments, RUN_DOCUMENT_LIMITS, registerRunDocumentMetrics } from './run-documents.ts';
export type { RunDocumentLimits } from './run-documents.ts';
export { handleMlflowError, mlflowNotFound, isMlflowPath, basicAuthToken, mlflowErrorBody, MLFLOW_STATUS } from './errors.ts';
export type { MlflowErrorCode, MlflowErrorBody } from './errors.ts';
export { checkedPublicUrl, mlflowArtifactRoutes, proxyTarget, modelProxyTarget, MLFLOW_ARTIFACT_PREFIXES, GET_ARTIFACT_PATH } from './artifacts.ts';
export type { MlflowArtifactRoutesDeps, ProxyTarget, ModelProxyTarget } from './artifacts.ts';
export { MlflowMultipartUploads, MULTIPART_LIMITS, multipartStaging, randomMultipartIds, sweepMultipartUploads } from './multipart.ts';
export type { MultipartLimits, MultipartIds, MultipartUpload, MultipartSweepReport, UploadTarget } from './multipart.ts';
export { mlflowRegistryRoutes, modelVersionJson, registeredModelJson } from './registry.ts';
export type { MlflowRegistryRoutesDeps } from './registry.ts';
export { mlflowLoggedModelRoutes, loggedModelJson } from './logged-models.ts';
export type { MlflowLoggedModelRoutesDeps } from './logged-models.ts';
