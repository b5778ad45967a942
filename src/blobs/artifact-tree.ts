// Artifact trees: the user-visible namespace over content-addressed blobs. Each scope (a project,
// a run in it, a job attempt in it) has a flat mapping of checked artifact paths to digests, kept
// in the database by its owning module (tracking, jobs, registry). This file holds only the pure
// rules they share: how a scope is named (so no two scopes, and no two projects, share a key) and
// how a flat mapping is listed as directories, the way MLflow's `artifacts/list` and S3's
// delimiter listing present it.
import { assertNever, badRequest, type JobId, type ProjectId } from '../kernel/index.ts';
import type { ArtifactPath } from './artifact-path.ts';
import type { Digest } from './digest.ts';

/** Who owns an artifact tree. Tenancy: every scope lives inside exactly one project. */
export type ArtifactScope =
  | { readonly kind: 'project'; readonly project: ProjectId }
  | { readonly kind: 'run'; readonly project: ProjectId; readonly run: string }
  | { readonly kind: 'job'; readonly project: ProjectId; readonly job: JobId; readonly attempt: number };

// Ids are opaque tokens: Strata ids ('prj_…', 'job_…') and MLflow run ids (32 hex) both fit.
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function checkedId(field: string, value: string): string {
  if (!ID.test(value)) {
    throw badRequest(`invalid ${field} ${JSON.stringify(value.slice(0, 140))} in an artifact scope: use 1–128 letters, digits, '_' or '-'`, { field });
  }
  return value;
}

/**
 * The canonical key prefix of a scope, ending in '/': `projects/<p>/`, `projects/<p>/runs/<r>/`,
 * `projects/<p>/jobs/<j>/attempts/<n>/`. Keys of different scopes never prefix one another, so a
 * prefix query or an S3 listing of one scope cannot see another's artifacts.
 */
export function artifactScopePrefix(scope: ArtifactScope): string {
  const project = `projects/${checkedId('project', scope.project)}/`;
  switch (scope.kind) {
    case 'project':
      return `${project}files/`;
    case 'run':
      return `${project}runs/${checkedId('run', scope.run)}/`;
    case 'job':
      if (!Number.isSafeInteger(scope.attempt) || scope.attempt < 1) {
        throw badRequest(`invalid attempt ${String(scope.attempt)} in an artifact scope: attempts count from 1`, { field: 'attempt' });
      }
      return `${project}jobs/${checkedId('job', scope.job)}/attempts/${scope.attempt}/`;
    default:
      return assertNever(scope, 'artifact scope');
  }
}

/** The full key of one artifact: scope prefix + checked path. */
export function artifactKey(scope: ArtifactScope, path: ArtifactPath): string {
  return artifactScopePrefix(scope) + path;
}

/** One artifact in a tree. */
export interface ArtifactEntry {
  readonly path: ArtifactPath;
  readonly digest: Digest;
  readonly size: number;
}

/** One line of a directory listing: a file (with size and digest) or an implied directory. */
export type ArtifactListing =
  | { readonly kind: 'file'; readonly path: ArtifactPath; readonly size: number; readonly digest: Digest }
  | { readonly kind: 'directory'; readonly path: ArtifactPath };

/**
 * Lists the direct children of `directory` (the root when omitted) in a flat tree, sorted by path:
 * files directly inside it, and each deeper subtree once as a directory. Pass the entries whose
 * path starts with `directory + '/'` (a prefix query); others are ignored. A path that names a
 * file lists nothing (MLflow lists files only under directories).
 */
export function listArtifactDirectory(entries: Iterable<ArtifactEntry>, directory?: ArtifactPath): ArtifactListing[] {
  const prefix = directory === undefined ? '' : `${directory}/`;
  const files = new Map<string, ArtifactListing>();
  const dirs = new Set<string>();
  for (const e of entries) {
    if (!e.path.startsWith(prefix)) continue;
    const rest = e.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) files.set(e.path, { kind: 'file', path: e.path, size: e.size, digest: e.digest });
    else dirs.add(prefix + rest.slice(0, slash));
  }
  const out: ArtifactListing[] = [...files.values()];
  for (const d of dirs) out.push({ kind: 'directory', path: d as ArtifactPath });
  // By path, a directory after a file of the same name (writers should refuse that clash; a
  // listing shows what is there rather than hiding one of them).
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind === b.kind ? 0 : a.kind === 'file' ? -1 : 1));
}
