// The rows of the registry that name blobs of a project's store, for the blob collector
// (blobs/gc.ts; joined with the other modules' by api/blob-gc.ts):
//
//   model_version_files.digest   digest indexed (migration 0010); the project is the version's
//
// model_versions.manifest_digest is not a blob: it hashes the canonical JSON of the version's file
// list (source.ts `manifestDigest`), which is never put into a store.
import type { BlobReferences, Digest } from '../blobs/index.ts';
import { pagedDigests } from '../blobs/index.ts';
import type { Db } from '../store/index.ts';

/** Files pinned by model versions of one project, as the sweep asks about them. */
export function registryBlobReferences(db: Db, projectId: string): BlobReferences {
  const files = () =>
    db
      .selectFrom('model_version_files as f')
      .innerJoin('model_versions as v', (j) => j.onRef('v.model_id', '=', 'f.model_id').onRef('v.version', '=', 'f.version'))
      .where('v.project_id', '=', projectId);
  return {
    referencedDigests: () => pagedDigests((after, limit) => files().select('f.digest').distinct().where('f.digest', '>', after).orderBy('f.digest').limit(limit).execute()),
    async isReferenced(digest: Digest): Promise<boolean> {
      const row = await files().select('f.digest').where('f.digest', '=', digest).limit(1).executeTakeFirst();
      return row !== undefined;
    },
  };
}
