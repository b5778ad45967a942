// A `ModelSourceResolver` over tracking's run artifact trees (the `run_artifacts` table that the
// MLflow artifact proxy and the Strata artifact API write): a source names one file, or every file
// under a directory of the run's tree, with paths made relative to that directory. The registry
// pins what it finds; later changes to the run's tree do not change a registered version.
import type { Digest } from '../blobs/index.ts';
import type { ProjectId } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import type { ModelSourceResolver } from './registry-service.ts';

/** Most files one source may name (a version pins at most REGISTRY_LIMITS.manifestFiles; one more shows the overflow). */
const MAX_ROWS = 10_001;

/** Resolves `runs:/` and `mlflow-artifacts:/` sources against the run artifact table. */
export function runArtifactSources(store: Store): ModelSourceResolver {
  return async (projectId: ProjectId, _source, parsed) => {
    let q = store.db.selectFrom('run_artifacts').select(['path', 'digest', 'size']).where('project_id', '=', projectId).where('run_id', '=', parsed.runId);
    const dir = parsed.path;
    if (dir !== '') q = q.where((eb) => eb.or([eb('path', '=', dir), eb.and([eb('path', '>=', `${dir}/`), eb('path', '<', `${dir}0`)])]));
    const rows = await q.orderBy('path').limit(MAX_ROWS).execute();
    if (rows.length === 0) return undefined;
    const exact = rows.find((r) => r.path === dir);
    const files = exact !== undefined ? [exact] : rows;
    return {
      files: files.map((r) => ({
        path: exact !== undefined ? r.path.slice(r.path.lastIndexOf('/') + 1) : dir === '' ? r.path : r.path.slice(dir.length + 1),
        digest: r.digest as Digest,
        size: Number(r.size),
      })),
    };
  };
}
