// Public surface of blobs: the content-addressed BlobStore port and its filesystem implementation,
// digests, garbage collection of a store, staging of multipart-upload parts, and the path and archive policies for user-visible
// artifact trees.
// (The contract suite is in contract.ts, imported directly by implementations' tests.)
export { type Digest, DIGEST_ALGORITHM, digestHex, digestOf, isDigest, parseDigest } from './digest.ts';
export {
  type BlobInfo,
  type BlobStore,
  type DeleteOptions,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type PutResult,
  type ResolvedRange,
  resolveRange,
} from './blob-store.ts';
export { FilesystemBlobStore, type FilesystemBlobStoreOptions, openFilesystemBlobStore } from './filesystem-blob-store.ts';
export {
  type BlobReferences,
  type BlobTally,
  type SweepOptions,
  type SweepReport,
  MAX_SWEEP_ERRORS,
  emptySweepReport,
  mergeAscending,
  pagedDigests,
  sweepBlobStore,
  unionReferences,
} from './gc.ts';
export {
  type ArtifactPath,
  type ArtifactPathLimits,
  type ArtifactPathOptions,
  type ArtifactPathProblem,
  type ArtifactPathVerdict,
  type ResolveInsideOptions,
  DEFAULT_ARTIFACT_PATH_LIMITS,
  checkArtifactPath,
  isInsideDirectory,
  joinArtifactPath,
  normaliseArtifactPath,
  resolveInside,
} from './artifact-path.ts';
export {
  type AdmittedEntry,
  type ArchiveEntryHeader,
  type ArchiveEntryType,
  type ArchiveLimits,
  ArchiveGuard,
  DEFAULT_ARCHIVE_LIMITS,
  checkArchiveEntries,
} from './archive-policy.ts';
export {
  type ArtifactEntry,
  type ArtifactListing,
  type ArtifactScope,
  artifactKey,
  artifactScopePrefix,
  listArtifactDirectory,
} from './artifact-tree.ts';
export { attachmentDisposition, parseRangeHeader } from './http-range.ts';
export { PartStaging, type StagedPart, type StagingEntry } from './part-staging.ts';
