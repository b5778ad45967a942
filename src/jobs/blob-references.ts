// The rows of jobs that name blobs of a project's store, for the blob collector (blobs/gc.ts;
// joined with the other modules' by api/blob-gc.ts):
//
//   job_artifacts.digest   (project_id, digest) indexed (migration 0010)
import type { BlobReferences, Digest } from '../blobs/index.ts';
import { pagedDigests } from '../blobs/index.ts';
import type { Db } from '../store/index.ts';

/** Job artifacts of one project, as the sweep asks about them. */
export function jobBlobReferences(db: Db, projectId: string): BlobReferences {
  return {
    referencedDigests: () =>
      pagedDigests((after, limit) =>
        db.selectFrom('job_artifacts').select('digest').distinct().where('project_id', '=', projectId).where('digest', '>', after).orderBy('digest').limit(limit).execute(),
      ),
    async isReferenced(digest: Digest): Promise<boolean> {
      const row = await db.selectFrom('job_artifacts').select('digest').where('project_id', '=', projectId).where('digest', '=', digest).limit(1).executeTakeFirst();
      return row !== undefined;
    },
  };
}
