// The registry model: registered models (per project), their versions (immutable once READY:
// pinned to a manifest of content digests), aliases, tags, MLflow's deprecated stages, model cards,
// promotion gates and provenance records. Both front ends (the Strata API and the MLflow REST API)
// map from these types; times are epoch milliseconds, as MLflow has them on the wire.
import type { Brand, ProjectId } from '../kernel/index.ts';
import { badRequest } from '../kernel/index.ts';
import type { Digest } from '../blobs/index.ts';

export type ModelId = Brand<string, 'ModelId'>;

/** MLflow's stages (deprecated since MLflow 2.9, kept for compatibility). */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];

/** Versions are created READY (their files are already stored); the others exist for the wire. */
export const VERSION_STATUSES = ['PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

export interface Tag {
  readonly key: string;
  readonly value: string;
}

/** One file of a model version: a checked relative path and the content it was pinned to. */
export interface ManifestFile {
  readonly path: string;
  readonly digest: Digest;
  readonly size: number;
}

/** Input/output signature (MLflow's `signature` in the MLmodel file: JSON strings of column specs). */
export interface Signature {
  readonly inputs: string | null;
  readonly outputs: string | null;
  readonly params: string | null;
}

export interface AliasRef {
  readonly alias: string;
  readonly version: number;
}

export interface RegisteredModel {
  readonly id: ModelId;
  readonly projectId: ProjectId;
  readonly name: string;
  readonly description: string;
  readonly creationTime: number;
  readonly lastUpdatedTime: number;
  readonly tags: readonly Tag[];
  readonly aliases: readonly AliasRef[];
  /** The newest version in each stage that has one (MLflow's `latest_versions`). */
  readonly latestVersions: readonly ModelVersion[];
}

export interface ModelVersion {
  readonly modelId: ModelId;
  readonly projectId: ProjectId;
  readonly name: string;
  readonly version: number;
  readonly description: string;
  readonly source: string;
  readonly runId: string | null;
  readonly runLink: string;
  readonly status: VersionStatus;
  readonly statusMessage: string;
  readonly stage: Stage;
  readonly creationTime: number;
  readonly lastUpdatedTime: number;
  readonly userId: string;
  /** `sha256:` digest of the canonical JSON of the sorted file list. */
  readonly manifestDigest: Digest;
  readonly fileCount: number;
  readonly totalSize: number;
  readonly signature: Signature | null;
  /** MLflow 3.x logged-model id, passed through. */
  readonly loggedModelId: string | null;
  readonly tags: readonly Tag[];
  readonly aliases: readonly string[];
}

/** A fairness evaluation: per-group metrics and what they show. */
export interface FairnessEvaluation {
  readonly summary: string;
  readonly groups: readonly { readonly group: string; readonly metrics: Readonly<Record<string, number>> }[];
}

/** A model card (Mitchell et al., "Model Cards for Model Reporting", 2019), attached to one version. */
export interface ModelCard {
  readonly intendedUse: string;
  readonly data: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly limitations: string;
  readonly fairness: FairnessEvaluation | null;
  readonly updatedTime: number;
  readonly updatedBy: string;
}

export const GATE_OPS = ['>=', '>', '<=', '<', '='] as const;
export type GateOp = (typeof GATE_OPS)[number];

export interface MetricThreshold {
  readonly key: string;
  readonly op: GateOp;
  readonly threshold: number;
}

/** What a project requires of a version before an alias (and the stage of the same name) may point to it. */
export interface PromotionGate {
  readonly alias: string;
  readonly requireModelCard: boolean;
  readonly metrics: readonly MetricThreshold[];
  readonly updatedTime: number;
  readonly updatedBy: string;
}

/** One check of a gate evaluation. */
export type GateCheck =
  | { readonly kind: 'model-card'; readonly ok: boolean; readonly message: string }
  | { readonly kind: 'metric'; readonly key: string; readonly op: GateOp; readonly threshold: number; readonly value: number | null; readonly ok: boolean; readonly message: string };

export interface GateDecision {
  readonly alias: string;
  readonly allowed: boolean;
  readonly checks: readonly GateCheck[];
}

/**
 * The provenance record of a READY version, appended to the audit Merkle log as the `after` state
 * of its `model.version.create` entry (the entry's afterHash is SHA-256 of its canonical JSON).
 * Non-finite metric values are written as the strings "NaN", "Infinity", "-Infinity".
 */
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
  /** The run's `mlflow.source.git.commit` tag. */
  readonly codeRevision: string | null;
  readonly codeSource: string | null;
  readonly datasets: readonly { readonly name: string; readonly digest: string; readonly sourceType: string; readonly source: string }[];
  readonly metrics: readonly { readonly key: string; readonly value: number | string; readonly step: number }[];
  readonly createdAt: string;
  readonly createdBy: string;
}

/** Limits (MLflow's where it has one: research note §5). */
export const REGISTRY_LIMITS = {
  modelNameLength: 200,
  aliasLength: 255,
  tagKeyLength: 250,
  tagValueLength: 100_000,
  descriptionLength: 100_000,
  sourceLength: 4096,
  runLinkLength: 4096,
  manifestFiles: 10_000,
  searchModelsDefault: 100,
  searchModelsMax: 1000,
  searchVersionsDefault: 10_000,
  searchVersionsMax: 200_000,
  cardTextLength: 50_000,
  cardMetrics: 200,
  fairnessGroups: 200,
  gateMetrics: 50,
  signatureLength: 1_000_000,
} as const;

/**
 * Registered model names: letters, digits, '.', '_' and '-', starting with a letter or digit, at
 * most 200 characters (the router's longest path segment), no '..'. They are URL segments of the Strata API; '%' and '/' are refused so
 * no encoded look-alike can collide with an existing name (CVE-2024-3099, model poisoning).
 */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$';
const MODEL_NAME_RE = new RegExp(MODEL_NAME_PATTERN);

/** Throws a 400 naming what a valid model name looks like. */
export function parseModelName(s: unknown, field = 'name'): string {
  if (typeof s !== 'string' || s === '') throw badRequest(`Missing value for required parameter '${field}': give the registered model's name`, { field });
  if (!MODEL_NAME_RE.test(s) || s.includes('..')) {
    throw badRequest(`Invalid model name ${JSON.stringify(s.slice(0, 100))}: use 1–200 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'`, { field });
  }
  return s;
}

/** Versions are positive integers; MLflow sends them as strings. */
export function parseVersion(s: unknown, field = 'version'): number {
  const t = typeof s === 'number' ? String(s) : s;
  if (typeof t !== 'string' || !/^[1-9][0-9]{0,9}$/.test(t.trim())) {
    throw badRequest(`Invalid value ${JSON.stringify(typeof s === 'string' ? s.slice(0, 40) : s)} for parameter '${field}': a model version is a positive integer such as "1"`, { field });
  }
  return Number(t.trim());
}

const ALIAS_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$/;

/**
 * Aliases: letters, digits, '_' and '-', at most 255 characters. `latest` and `v<digits>` are
 * reserved (MLflow `_validate_model_alias_name`: `models:/name@latest` and `@v3` mean other things).
 */
export function parseAlias(s: unknown, field = 'alias'): string {
  if (typeof s !== 'string' || s === '') throw badRequest(`Missing value for required parameter '${field}'`, { field });
  if (!ALIAS_RE.test(s)) throw badRequest(`Invalid alias ${JSON.stringify(s.slice(0, 100))}: use 1–255 letters, digits, '_' or '-'`, { field });
  if (s.toLowerCase() === 'latest' || /^v\d+$/i.test(s)) throw badRequest(`'${s}' is a reserved alias name (latest and v<number> refer to versions): choose another`, { field });
  return s;
}

/** Stage names, case-insensitively (MLflow `get_canonical_stage`). */
export function parseStage(s: unknown, field = 'stage'): Stage {
  const t = typeof s === 'string' ? s.trim().toLowerCase() : '';
  const hit = STAGES.find((x) => x.toLowerCase() === t);
  if (hit === undefined) throw badRequest(`Invalid Model Version stage: ${JSON.stringify(s)}. Value must be one of ${STAGES.join(', ')}.`, { field });
  return hit;
}

export function validateTag(t: Tag): Tag {
  if (t.key === '' || t.key.length > REGISTRY_LIMITS.tagKeyLength) throw badRequest(`Tag key '${t.key.slice(0, 40)}' must be 1 to ${REGISTRY_LIMITS.tagKeyLength} characters`, { field: 'key' });
  // eslint-disable-next-line no-control-regex -- control characters in keys are refused
  if (/[\u0000-\u001f]/.test(t.key)) throw badRequest('Tag keys cannot contain control characters', { field: 'key' });
  if (t.value.length > REGISTRY_LIMITS.tagValueLength) throw badRequest(`Tag value for '${t.key}' had length ${t.value.length}, which exceeded length limit of ${REGISTRY_LIMITS.tagValueLength}`, { field: 'value' });
  return t;
}

export function validateDescription(d: string): string {
  if (d.length > REGISTRY_LIMITS.descriptionLength) throw badRequest(`description is longer than ${REGISTRY_LIMITS.descriptionLength} characters`, { field: 'description' });
  return d;
}
