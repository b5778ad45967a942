// Where a model version's files come from, and the manifest that pins them. A `source` is accepted
// only if it names artifacts Strata itself stores: `runs:/<run_id>/<path>`,
// `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>` (what MLflow clients send), or
// `models:/<name>/<version>` (a copy of another version). Everything else — file:, http(s):, s3:,
// `//proc/self/root`, hosts, fragments, params, queries, backslashes, NUL, '..' in any encoding —
// is refused with a 400 before anything is written: those are the inputs of CVE-2023-1177/-1176,
// CVE-2023-2356/-2780, CVE-2023-6977, CVE-2024-1594, CVE-2024-3573 and CVE-2025-11201 (research
// note §6), where MLflow followed a client-chosen source out of its artifact root.
import { createHash } from 'node:crypto';
import type { Digest } from '../blobs/index.ts';
import { normaliseArtifactPath } from '../blobs/index.ts';
import { badRequest } from '../kernel/index.ts';
import { canonicalJson } from '../access/audit/index.ts';
import type { ManifestFile } from './model.ts';
import { REGISTRY_LIMITS, parseModelName, parseVersion } from './model.ts';
import { RUN_ID_PATTERN } from '../tracking/index.ts';

/** A checked source: run artifacts (a directory or file under a run's root) or another version. */
export type ModelSource =
  | { readonly kind: 'run'; readonly runId: string; readonly experimentId: string | null; readonly path: string; readonly uri: string }
  | { readonly kind: 'model-version'; readonly name: string; readonly version: number; readonly uri: string };

const RUN_ID = new RegExp(RUN_ID_PATTERN);
const EXPERIMENT_ID = /^[A-Za-z0-9][\w-]{0,63}$/;
const MAX_DECODE_ROUNDS = 10;

const refuse = (source: string, why: string): Error =>
  badRequest(`Invalid model version source ${JSON.stringify(source.slice(0, 200))}: ${why}. Register a model from artifacts stored in Strata: runs:/<run_id>/<path> or mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>`, {
    field: 'source',
  });

/** Percent-decodes until the value stops changing (as MLflow's `uri._decode`); undefined if it never settles or is not UTF-8. */
function decodeFixpoint(s: string): string | undefined {
  let cur = s;
  for (let i = 0; i < MAX_DECODE_ROUNDS; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
    } catch {
      return undefined;
    }
    if (next === cur) return cur;
    cur = next;
  }
  return undefined;
}

/** The relative path part of a source (may be empty: the whole root), checked by the blobs path policy. */
function sourcePath(source: string, rest: string): string {
  if (rest === '') return '';
  const trimmed = rest.endsWith('/') ? rest.slice(0, -1) : rest;
  try {
    return normaliseArtifactPath(trimmed, { field: 'source' });
  } catch (e) {
    throw refuse(source, `its path is not a plain relative path (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Parses and checks a model version source. Throws 400 (nothing is written) for anything else. */
export function parseModelSource(source: unknown): ModelSource {
  if (typeof source !== 'string' || source === '') throw badRequest("Missing value for required parameter 'source'", { field: 'source' });
  if (source.length > REGISTRY_LIMITS.sourceLength) throw refuse(source, `it is longer than ${REGISTRY_LIMITS.sourceLength} characters`);
  const decoded = decodeFixpoint(source);
  if (decoded === undefined) throw refuse(source, 'it is not valid percent-encoded UTF-8, or decodes more than 10 times');
  // eslint-disable-next-line no-control-regex -- NUL and control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(decoded)) throw refuse(source, 'it contains a NUL or control character');
  if (decoded.includes('\\')) throw refuse(source, 'it contains a backslash');
  if (/[#;?]/.test(decoded)) throw refuse(source, "it contains '#', ';' or '?' (fragments, params and queries are not allowed: CVE-2024-1594)");
  if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) throw refuse(source, "it contains a '.' or '..' segment");

  let m = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(source);
  if (m !== null) {
    const runId = m[1] ?? '';
    if (!RUN_ID.test(runId)) throw refuse(source, 'the run id is not valid');
    const path = sourcePath(source, m[2] ?? '');
    return { kind: 'run', runId, experimentId: null, path, uri: path === '' ? `runs:/${runId}` : `runs:/${runId}/${path}` };
  }
  m = /^mlflow-artifacts:\/([^/]+)\/([^/]+)\/artifacts(?:\/(.*))?$/.exec(source);
  if (m !== null) {
    const experimentId = m[1] ?? '';
    const runId = m[2] ?? '';
    if (!EXPERIMENT_ID.test(experimentId)) throw refuse(source, 'the experiment id is not valid');
    if (!RUN_ID.test(runId)) throw refuse(source, 'the run id is not valid');
    const path = sourcePath(source, m[3] ?? '');
    return { kind: 'run', runId, experimentId, path, uri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts${path === '' ? '' : `/${path}`}` };
  }
  m = /^models:\/([^/@]+)\/([^/]+)$/.exec(source);
  if (m !== null) {
    let name: string;
    let version: number;
    try {
      name = parseModelName(m[1], 'source');
      version = parseVersion(m[2], 'source');
    } catch {
      throw refuse(source, 'models:/ sources must name a registered model and a version number, e.g. models:/my-model/3');
    }
    return { kind: 'model-version', name, version, uri: `models:/${name}/${version}` };
  }
  if (source.startsWith('mlflow-artifacts://')) throw refuse(source, 'mlflow-artifacts URIs with a host are not accepted (CVE-2023-2356)');
  if (source.startsWith('mlflow-artifacts:')) throw refuse(source, 'mlflow-artifacts sources must be <experiment_id>/<run_id>/artifacts/<path>');
  if (source.startsWith('models:/')) throw refuse(source, 'only models:/<name>/<version> is supported (not aliases, stages or logged-model ids)');
  throw refuse(source, 'its scheme is not runs:/, mlflow-artifacts:/ or models:/ (local paths, file:, http(s):, s3: and other stores are refused: CVE-2023-1177, CVE-2023-6977, CVE-2024-3573)');
}

/** The files of a manifest sorted by path, with duplicate and malformed entries refused. */
export function sortedManifest(files: readonly ManifestFile[]): ManifestFile[] {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as ManifestFile).path === (sorted[i - 1] as ManifestFile).path) throw badRequest(`the source lists '${(sorted[i] as ManifestFile).path}' twice`, { field: 'source' });
  }
  return sorted;
}

/**
 * The manifest digest: `sha256:` + SHA-256 of the RFC 8785 canonical JSON of the path-sorted list
 * of `{path, digest, size}`. Anyone can recompute it from the file list with any JCS library.
 */
export function manifestDigest(files: readonly ManifestFile[]): Digest {
  const list = sortedManifest(files).map((f) => ({ path: f.path, digest: f.digest, size: f.size }));
  return `sha256:${createHash('sha256').update(canonicalJson(list)).digest('hex')}` as Digest;
}
