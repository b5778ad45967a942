// Registry: registered models, versions pinned to content digests, aliases, tags, MLflow stages,
// model cards, promotion gates, lineage (dataset → run → model version) and provenance records in
// the audit Merkle log. Front ends: routes.ts (Strata API) and api/mlflow/registry.ts (MLflow REST).
export * from './model.ts';
export { RegistryService } from './registry-service.ts';
export type { RegistryDeps, ModelSourceResolver, SourceFiles, CreateVersionInput, SearchInput, VersionLineage, RunLineageNode, DatasetNode, VersionNode } from './registry-service.ts';
export { parseModelSource, manifestDigest, sortedManifest } from './source.ts';
export type { ModelSource } from './source.ts';
export { runArtifactSources } from './run-artifact-sources.ts';
export { parseModelFilter, parseVersionFilter, parseRegistryOrderBy } from './search-filter.ts';
export type { RegistryClause, RegistryOrderTerm } from './search-filter.ts';
export { evaluateGate, parseGatePolicy, parseModelCard } from './gates.ts';
export { verifyProvenance, PROVENANCE_ACTION, jsonMetricValue } from './provenance.ts';
export type { ProvenanceBundle, ProvenanceVerdict, ProvenanceCheck } from './provenance.ts';
export { registryRoutes, REGISTRY_ACTIONS, versionJson, modelJson } from './routes.ts';
export type { RegistryRoutesDeps } from './routes.ts';
export { registryBlobReferences } from './blob-references.ts';
