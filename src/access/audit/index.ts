// Public surface of the tamper-evident audit log core: RFC 9162 Merkle tree and proofs, the entry
// format and its canonical encoding, Ed25519 signed checkpoints, and the offline verifier.
// Pure: no database, no HTTP. Callers import from here, not from the files behind it.

export {
  EMPTY_ROOT,
  HASH_SIZE,
  MerkleAccumulator,
  consistencyProof,
  hashFromHex,
  inclusionProof,
  isHashHex,
  leafHash,
  nodeHash,
  rootFromLeaves,
  sha256Hex,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
export {
  AUDIT_OUTCOMES,
  auditEntryProblem,
  canonicalEntryBytes,
  canonicalEntryJson,
  canonicalJson,
  entryLeafHash,
  entryLeafHashHex,
  isIsoTime,
  parseAuditEntry,
  stateHash,
  type AuditEntry,
  type StoredAuditEntry,
} from './entry.ts';
export {
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  checkpointBytes,
  checkpointFileName,
  checkpointProblem,
  generateSigningKey,
  listCheckpoints,
  loadOrCreateSigningKey,
  loadPublicKey,
  publicKeyId,
  readCheckpointFile,
  readLatestCheckpoint,
  signCheckpoint,
  signedCheckpointProblem,
  verifyCheckpoint,
  writeCheckpointFile,
  type Checkpoint,
  type SignedCheckpoint,
  type SigningKey,
} from './checkpoint.ts';
export { verifyAuditLog, verifyCanonicalLines, type LineBatch, type VerifyAuditLogInput, type VerifyAuditLogResult } from './verify.ts';
