// Provenance of model versions: the record appended to the audit Merkle log when a version becomes
// READY, and the verifier anyone can run with only the log's public key. What the verifier checks,
// in order (each failure names itself):
//   1. checkpoint — the signed tree head verifies under the public key (Ed25519);
//   2. entry     — the audit entry hashes to the proof's leaf (RFC 9162 §2.1.1 leaf hash of its
//                  RFC 8785 canonical JSON) and is the `model.version.create` entry at that index;
//   3. inclusion — the leaf is entry `seq` of the checkpoint's tree (RFC 9162 §2.1.3.2);
//   4. record    — SHA-256 of the record's canonical JSON is the entry's afterHash (a forged or
//                  edited record fails here);
//   5. manifest  — the file list hashes to the record's manifest digest;
//   6. files     — every stored file re-hashes to its listed digest and size (changed weights fail).
import type { KeyObject } from 'node:crypto';
import type { AuditEntry, SignedCheckpoint } from '../access/audit/index.ts';
import { entryLeafHashHex, hashFromHex, stateHash, verifyCheckpoint, verifyInclusion } from '../access/audit/index.ts';
import { manifestDigest } from './source.ts';
import type { ManifestFile, ProvenanceRecord } from './model.ts';

/** The audit action whose `after` state is a version's provenance record. */
export const PROVENANCE_ACTION = 'model.version.create';

/** What the provenance API returns for one version. */
export interface ProvenanceBundle {
  readonly name: string;
  readonly version: number;
  readonly record: ProvenanceRecord;
  /** Audit sequence number (Merkle leaf index) of the entry that records it. */
  readonly seq: number;
  readonly entry: AuditEntry & { readonly leafHash?: string };
  readonly checkpoint: SignedCheckpoint;
  readonly proof: { readonly index: number; readonly size: number; readonly leafHash: string; readonly root: string; readonly proof: readonly string[] };
  readonly files: readonly ManifestFile[];
  /** The log's public key (PEM) as the server reports it: pin it; do not trust it on its own. */
  readonly publicKey: string;
}

export type ProvenanceCheck = 'checkpoint' | 'entry' | 'inclusion' | 'record' | 'manifest' | 'files';

export type ProvenanceVerdict =
  | { readonly ok: true; readonly seq: number; readonly manifestDigest: string; readonly checkpointSize: number; readonly root: string; readonly files: number }
  | { readonly ok: false; readonly failed: ProvenanceCheck; readonly reason: string };

/** Metric values as canonical JSON can carry them (RFC 8785 has no NaN or Infinity). */
export function jsonMetricValue(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

const fail = (failed: ProvenanceCheck, reason: string): ProvenanceVerdict => ({ ok: false, failed, reason });

/**
 * Verifies a provenance bundle against a public key the caller trusts and the digests the caller
 * computed itself from the stored bytes (`rehashed`: path → {digest, size}; pass the files'
 * re-hash results, never the bundle's own list). Never throws.
 */
export function verifyProvenance(bundle: ProvenanceBundle, publicKey: KeyObject, rehashed: ReadonlyMap<string, { readonly digest: string; readonly size: number }>): ProvenanceVerdict {
  try {
    const { checkpoint, proof, entry, record } = bundle;
    if (!verifyCheckpoint(checkpoint, publicKey)) return fail('checkpoint', 'the checkpoint signature does not verify under the trusted public key');
    if (proof.size !== checkpoint.size) return fail('inclusion', `the proof is for a tree of ${proof.size} entries but the checkpoint covers ${checkpoint.size}`);
    const { leafHash: _stored, ...bare } = entry;
    let leaf: string;
    try {
      leaf = entryLeafHashHex(bare);
    } catch (e) {
      return fail('entry', `the audit entry is malformed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (leaf !== proof.leafHash) return fail('entry', 'the audit entry does not hash to the leaf of the inclusion proof');
    if (entry.seq !== bundle.seq || proof.index !== bundle.seq) return fail('entry', `the entry is at seq ${entry.seq}, the proof at ${proof.index}, the record claims ${bundle.seq}`);
    if (entry.action !== PROVENANCE_ACTION) return fail('entry', `audit entry ${entry.seq} is a '${entry.action}' entry, not '${PROVENANCE_ACTION}'`);
    const leafBytes = hashFromHex(leaf);
    const root = hashFromHex(checkpoint.root);
    const path = proof.proof.map((p) => hashFromHex(p));
    if (leafBytes === undefined || root === undefined || path.some((p) => p === undefined)) return fail('inclusion', 'the proof holds malformed hashes');
    if (!verifyInclusion(leafBytes, proof.index, checkpoint.size, path as Buffer[], root)) {
      return fail('inclusion', `entry ${entry.seq} is not included in the signed tree of ${checkpoint.size} entries (root ${checkpoint.root.slice(0, 16)}…)`);
    }
    if (stateHash(record) !== entry.afterHash) return fail('record', 'the provenance record does not match the audit entry (it was changed after it was logged)');
    if (record.model.version !== bundle.version || record.project !== entry.project) return fail('record', 'the record is for another version or project');
    let digest: string;
    try {
      digest = manifestDigest(bundle.files);
    } catch (e) {
      return fail('manifest', `the file list is malformed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (digest !== record.manifestDigest) return fail('manifest', `the file list hashes to ${digest}, but the record pins ${record.manifestDigest}`);
    if (bundle.files.length !== record.files) return fail('manifest', `the record pins ${record.files} files, the list has ${bundle.files.length}`);
    for (const f of bundle.files) {
      const got = rehashed.get(f.path);
      if (got === undefined) return fail('files', `${f.path} was not re-hashed (could not be downloaded)`);
      if (got.digest !== f.digest || got.size !== f.size) return fail('files', `${f.path} changed: stored bytes hash to ${got.digest} (${got.size} bytes), the version pins ${f.digest} (${f.size} bytes)`);
    }
    return { ok: true, seq: entry.seq, manifestDigest: record.manifestDigest, checkpointSize: checkpoint.size, root: checkpoint.root, files: bundle.files.length };
  } catch (e) {
    return fail('entry', `the bundle is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
