// The rows of tracking that name blobs of a project's store, for the blob collector (blobs/gc.ts;
// joined with the other modules' by api/blob-gc.ts):
//
//   run_artifacts.digest            (project_id, digest) indexed
//   logged_model_artifacts.digest   (project_id, digest) indexed
//
// datasets.digest is MLflow's dataset fingerprint, not content of a store.
import type { BlobReferences, Digest } from '../blobs/index.ts';
import { mergeAscending, pagedDigests } from '../blobs/index.ts';
import type { Db } from '../store/index.ts';

/** Run artifacts and logged-model artifacts of one project, as the sweep asks about them. */
export function trackingBlobReferences(db: Db, projectId: string): BlobReferences {
  return {
    referencedDigests: () => {
      const runs = pagedDigests((after, limit) =>
        db.selectFrom('run_artifacts').select('digest').distinct().where('project_id', '=', projectId).where('digest', '>', after).orderBy('digest').limit(limit).execute(),
      );
      const models = pagedDigests((after, limit) =>
        db.selectFrom('logged_model_artifacts').select('digest').distinct().where('project_id', '=', projectId).where('digest', '>', after).orderBy('digest').limit(limit).execute(),
      );
      return mergeAscending([runs, models]);
    },
    async isReferenced(digest: Digest): Promise<boolean> {
      const row = await db
        .selectNoFrom((eb) =>
          eb
            .or([
              eb.exists(eb.selectFrom('run_artifacts').select('digest').where('project_id', '=', projectId).where('digest', '=', digest)),
              eb.exists(eb.selectFrom('logged_model_artifacts').select('digest').where('project_id', '=', projectId).where('digest', '=', digest)),
            ])
            .as('hit'),
        )
        .executeTakeFirstOrThrow();
      // SQLite answers 0/1, PostgreSQL a boolean.
      return row.hit === true || Number(row.hit) === 1;
    },
  };
}
