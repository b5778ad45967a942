// The audit entry — one Merkle leaf — and its canonical byte encoding. The leaf hash commits to
// exactly the fields of `AuditEntry`, serialised as RFC 8785 (JCS) canonical JSON, so any party can
// recompute it from a stored row without our code (research/security-reliability.md §1.2 P2).

import canonicalizeModule from 'canonicalize';
import { badRequest } from '../../kernel/errors.ts';
import { isHashHex, leafHashHexOfString, sha256Hex } from './merkle.ts';

/** One audit event. Format version 1; `seq` is the 0-based, gapless Merkle leaf index. */
export interface AuditEntry {
  readonly v: 1; // format version
  readonly seq: number; // 0-based, equals the Merkle leaf index; gapless
  readonly time: string; // ISO-8601
  readonly actor: string; // principal id, or 'system'
  readonly action: string; // e.g. 'project.create'
  readonly resource: string; // e.g. 'project/prj_abc'
  readonly project: string | null; // project id when the resource lives in one
  readonly outcome: 'success' | 'denied' | 'failure';
  readonly requestId: string | null;
  readonly beforeHash: string | null; // hex SHA-256 of canonical JSON of the state before, or null
  readonly afterHash: string | null;
  readonly details: Readonly<Record<string, unknown>>; // never secret values
}

/** An entry as the database stores it: the entry plus its leaf hash (hex), written at append time. */
export interface StoredAuditEntry extends AuditEntry {
  readonly leafHash: string;
}

export const AUDIT_OUTCOMES: readonly AuditEntry['outcome'][] = ['success', 'denied', 'failure'];

// `canonicalize` is CommonJS (`module.exports = serialize`) but its .d.ts says `export default`, so
// under NodeNext the default import is typed as the module namespace while being the function at
// runtime. This wrapper states the real type and fails loudly at load if the package ever changes.
type Serialize = (input: unknown) => string | undefined;
const serialize: Serialize = ((): Serialize => {
  const mod: unknown = canonicalizeModule;
  if (typeof mod === 'function') return mod as Serialize;
  const inner: unknown = (mod as { default?: unknown } | null)?.default;
  if (typeof inner === 'function') return inner as Serialize;
  throw new Error('the canonicalize package does not export a function');
})();

/**
 * RFC 8785 canonical JSON of a JSON-compatible value (keys sorted by UTF-16 code units, ECMAScript
 * number formatting, no whitespace). Throws a bad_request StrataError for values JSON cannot carry
 * faithfully: NaN, ±Infinity, BigInt, cycles, or `undefined` at the top level.
 */
export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = serialize(value);
  } catch (e) {
    throw badRequest(`value cannot be encoded as canonical JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof out !== 'string') throw badRequest('value cannot be encoded as canonical JSON (undefined, a function or a symbol)');
  return out;
}

/** Hex SHA-256 of the canonical JSON of `value` — used for `beforeHash` / `afterHash`. */
export function stateHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** True for an ISO-8601 date-time with seconds and a zone, e.g. `2026-01-01T00:00:00.000Z`. */
export const isIsoTime = (s: unknown): s is string => typeof s === 'string' && ISO_TIME.test(s);

const isPlainObject = (x: unknown): x is Record<string, unknown> => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
};

const nonEmpty = (x: unknown): x is string => typeof x === 'string' && x.length > 0;

/**
 * What is wrong with `e` as an `AuditEntry`, or `undefined` if nothing is. Checks only shape and
 * types (the leaf hash is what proves content); never throws. Used on append and by the verifier,
 * which treats rows from the database as untrusted input.
 */
export function auditEntryProblem(e: unknown): string | undefined {
  if (!isPlainObject(e)) return 'not an object';
  if (e['v'] !== 1) return 'v is not 1 (the only format version)';
  const seq = e['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'seq is not a non-negative integer';
  if (!isIsoTime(e['time'])) return 'time is not an ISO-8601 timestamp';
  if (!nonEmpty(e['actor'])) return 'actor is empty or not a string';
  if (!nonEmpty(e['action'])) return 'action is empty or not a string';
  if (!nonEmpty(e['resource'])) return 'resource is empty or not a string';
  if (e['project'] !== null && !nonEmpty(e['project'])) return 'project is neither null nor a non-empty string';
  const outcome = e['outcome'];
  if (outcome !== 'success' && outcome !== 'denied' && outcome !== 'failure') return 'outcome is not success, denied or failure';
  if (e['requestId'] !== null && !nonEmpty(e['requestId'])) return 'requestId is neither null nor a non-empty string';
  if (e['beforeHash'] !== null && !isHashHex(e['beforeHash'])) return 'beforeHash is neither null nor 64 lower-case hex digits';
  if (e['afterHash'] !== null && !isHashHex(e['afterHash'])) return 'afterHash is neither null nor 64 lower-case hex digits';
  if (!isPlainObject(e['details'])) return 'details is not a plain object';
  return undefined;
}

// Strings that JSON.stringify would emit unchanged between quotes: no quote, backslash, control
// character or surrogate. For these `"` + s + `"` is the RFC 8785 form, and skipping
// JSON.stringify is the single largest saving when verifying a million entries.
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const PLAIN_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const str = (s: string): string => (PLAIN_STRING.test(s) ? `"${s}"` : JSON.stringify(s));
const strOrNull = (s: string | null): string => (s === null ? 'null' : str(s));

/**
 * The canonical JSON text of an entry: RFC 8785 over exactly the `AuditEntry` fields (extra
 * properties such as a stored `leafHash` are ignored). Written out field by field in JCS key order
 * because the generic serialiser is ~5× slower; a property test holds it equal to
 * `canonicalJson(pick(e))`. Throws a bad_request StrataError for a malformed entry.
 */
export function canonicalEntryJson(e: AuditEntry): string {
  const problem = auditEntryProblem(e);
  if (problem !== undefined) throw badRequest(`audit entry is malformed: ${problem}`);
  // Keys in RFC 8785 §3.2.3 order (UTF-16 code units): action, actor, afterHash, beforeHash,
  // details, outcome, project, requestId, resource, seq, time, v.
  return (
    `{"action":${str(e.action)},"actor":${str(e.actor)},"afterHash":${strOrNull(e.afterHash)}` +
    `,"beforeHash":${strOrNull(e.beforeHash)},"details":${canonicalJson(e.details)},"outcome":"${e.outcome}"` +
    `,"project":${strOrNull(e.project)},"requestId":${strOrNull(e.requestId)},"resource":${str(e.resource)}` +
    `,"seq":${String(e.seq)},"time":${str(e.time)},"v":1}`
  );
}

/** UTF-8 bytes of the entry's canonical JSON — the Merkle leaf input (RFC 9162 §2.1.1 `entry`). */
export function canonicalEntryBytes(e: AuditEntry): Buffer {
  return Buffer.from(canonicalEntryJson(e), 'utf8');
}

/** Hex leaf hash SHA-256(0x00 || canonicalEntryBytes(e)), the value stored beside the row. */
export function entryLeafHashHex(e: AuditEntry): string {
  return leafHashHexOfString(canonicalEntryJson(e));
}

/** Leaf hash SHA-256(0x00 || canonicalEntryBytes(e)) as bytes. */
export function entryLeafHash(e: AuditEntry): Buffer {
  return Buffer.from(entryLeafHashHex(e), 'hex');
}
