// The audit entry — one Merkle leaf — and its canonical byte encoding. The leaf hash commits to
// exactly the fields of `AuditEntry`, serialised as RFC 8785 (JCS) canonical JSON, so any party can
// recompute it from a stored row without our code (research/security-reliability.md §1.2 P2).

import { badRequest } from '../../kernel/index.ts';
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

// Strings that JSON.stringify would emit unchanged between quotes: no quote, backslash, control
// character or surrogate. For these `"` + s + `"` is the RFC 8785 form; skipping JSON.stringify
// for them is a measurable saving when verifying a million entries.
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const PLAIN_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const str = (s: string): string => (PLAIN_STRING.test(s) ? `"${s}"` : JSON.stringify(s));
const strOrNull = (s: string | null): string => (s === null ? 'null' : str(s));

// `<` on strings compares UTF-16 code units, as RFC 8785 §3.2.3 requires (and is faster than the
// default sort, which goes through a generic string conversion).
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}

/** Deeper nesting than this is refused: it is either a cycle or a payload built to exhaust the stack. */
const MAX_DEPTH = 200;

/**
 * RFC 8785 serialisation of one value; `undefined` for values JSON omits (undefined, functions,
 * symbols). Strings use JSON.stringify escaping and numbers the ECMAScript Number-to-String
 * algorithm, both as RFC 8785 §3.2.2 prescribes; object keys are sorted by UTF-16 code units
 * (§3.2.3). Deeper than MAX_DEPTH levels is refused, which also stops cycles.
 */
function jcs(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return str(value);
    case 'number':
      // For finite numbers String() is Number::toString, the serialisation RFC 8785 §3.2.2.3 requires.
      if (!Number.isFinite(value)) throw new TypeError(`${String(value)} is not allowed in JSON`);
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('BigInt is not allowed in JSON');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) throw new TypeError(`nested deeper than ${MAX_DEPTH} levels (or cyclic)`);
      const toJSON: unknown = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return jcs((toJSON as () => unknown).call(value), depth + 1);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += jcs(value[i], depth + 1) ?? 'null';
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (!isSorted(keys)) keys.sort(byCodeUnits); // objects often arrive with their keys in order
      let out = '{';
      for (const key of keys) {
        const v = jcs(obj[key], depth + 1);
        if (v === undefined) continue;
        if (out.length > 1) out += ',';
        out += `${str(key)}:${v}`;
      }
      return `${out}}`;
    }
  }
}

/**
 * RFC 8785 canonical JSON (JCS) of a JSON-compatible value: keys sorted by UTF-16 code units,
 * ECMAScript number formatting, no whitespace. Throws a bad_request StrataError for values JSON
 * cannot carry faithfully: NaN, ±Infinity, BigInt, nesting deeper than 200 (or a cycle), or
 * `undefined` / a function at the top level.
 *
 * Our own ~40 lines rather than the `canonicalize` package (STYLE.md habit 7 — the audit log is the
 * product): that package was several times slower on small objects, enough to dominate the time
 * to verify a million entries, and it emits a bare `undefined` for functions inside arrays and
 * objects. The tests hold this equal to `canonicalize` on arbitrary JSON values and reproduce the
 * RFC 8785 test vectors.
 */
export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = jcs(value, 0);
  } catch (e) {
    throw badRequest(`value cannot be encoded as canonical JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (out === undefined) throw badRequest('value cannot be encoded as canonical JSON (undefined, a function or a symbol)');
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
 * Reads `raw` as an `AuditEntry`: returns a fresh object holding exactly its twelve fields, or a
 * string saying what is wrong. Each field is read once, and extra properties (a stored `leafHash`,
 * driver metadata) are left behind.
 */
function readEntry(raw: unknown): AuditEntry | string {
  if (!isPlainObject(raw)) return 'not an object';
  const { v, seq, time, actor, action, resource, project, outcome, requestId, beforeHash, afterHash, details } = raw;
  if (v !== 1) return 'v is not 1 (the only format version)';
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'seq is not a non-negative integer';
  if (!isIsoTime(time)) return 'time is not an ISO-8601 timestamp';
  if (!nonEmpty(actor)) return 'actor is empty or not a string';
  if (!nonEmpty(action)) return 'action is empty or not a string';
  if (!nonEmpty(resource)) return 'resource is empty or not a string';
  if (project !== null && !nonEmpty(project)) return 'project is neither null nor a non-empty string';
  if (outcome !== 'success' && outcome !== 'denied' && outcome !== 'failure') return 'outcome is not success, denied or failure';
  if (requestId !== null && !nonEmpty(requestId)) return 'requestId is neither null nor a non-empty string';
  if (beforeHash !== null && !isHashHex(beforeHash)) return 'beforeHash is neither null nor 64 lower-case hex digits';
  if (afterHash !== null && !isHashHex(afterHash)) return 'afterHash is neither null nor 64 lower-case hex digits';
  if (!isPlainObject(details)) return 'details is not a plain object';
  return { v, seq, time, actor, action, resource, project, outcome, requestId, beforeHash, afterHash, details };
}

/**
 * What is wrong with `e` as an `AuditEntry`, or `undefined` if nothing is. Checks only shape and
 * types (the leaf hash is what proves content); never throws.
 */
export function auditEntryProblem(e: unknown): string | undefined {
  const r = readEntry(e);
  return typeof r === 'string' ? r : undefined;
}

/**
 * Parses an untrusted value (an HTTP body, a database row) into an `AuditEntry` holding exactly its
 * twelve fields; extra properties such as a stored `leafHash` are dropped. Throws a bad_request
 * StrataError naming the first bad field.
 */
export function parseAuditEntry(raw: unknown): AuditEntry {
  const r = readEntry(raw);
  if (typeof r === 'string') throw badRequest(`audit entry is malformed: ${r}`);
  return r;
}

// Keys in RFC 8785 §3.2.3 order (UTF-16 code units): action, actor, afterHash, beforeHash,
// details, outcome, project, requestId, resource, seq, time, v. Written out field by field because
// it is ~3× faster than the generic walk; a property test holds it equal to canonicalJson(pick(e)).
// Hashes, outcome and time have been validated to contain nothing JSON escapes, so they are quoted
// directly.
const hashOrNull = (h: string | null): string => (h === null ? 'null' : `"${h}"`);
const encodeValidEntry = (e: AuditEntry): string =>
  `{"action":${str(e.action)},"actor":${str(e.actor)},"afterHash":${hashOrNull(e.afterHash)}` +
  `,"beforeHash":${hashOrNull(e.beforeHash)},"details":${canonicalJson(e.details)},"outcome":"${e.outcome}"` +
  `,"project":${strOrNull(e.project)},"requestId":${strOrNull(e.requestId)},"resource":${str(e.resource)}` +
  `,"seq":${String(e.seq)},"time":"${e.time}","v":1}`;

/**
 * The canonical JSON text of an entry: RFC 8785 over exactly the `AuditEntry` fields (extra
 * properties such as a stored `leafHash` are ignored). Throws a bad_request StrataError for a
 * malformed entry (see `auditEntryProblem`) or details JSON cannot carry.
 */
export function canonicalEntryJson(e: AuditEntry): string {
  return encodeValidEntry(parseAuditEntry(e));
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

/**
 * For the verifier's hot loop: the canonical JSON of a stored row, or `undefined` if the row is
 * malformed (then `auditEntryProblem` says why) — validation and encoding in one pass. Throws
 * (bad_request) only if `details` cannot be encoded. Not part of the public surface.
 */
export function rowCanonicalJson(raw: unknown): string | undefined {
  const e = readEntry(raw);
  return typeof e === 'string' ? undefined : encodeValidEntry(e);
}
