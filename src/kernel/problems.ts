// Problem collection for validating structured input (job specs, network descriptions, ...): each
// check records a problem against a field path ("resources.memory", "files[2].path",
// "populations[1].neuron.tau_m") and validation carries on, so one 400 reports up to
// MAX_REPORTED_PROBLEMS mistakes at once instead of one per round trip. Also the field-path
// builders, a safe rendering of bad values, and the "did you mean" suggestion for unknown fields.
import { badRequest } from './errors.ts';
import type { StrataError } from './errors.ts';

/** One thing wrong with an input: the field path and what is allowed there. */
export interface Problem {
  readonly field: string;
  readonly message: string;
}

/** How many problems one error reports in full; the rest are counted. */
export const MAX_REPORTED_PROBLEMS = 10;

export interface ProblemsOptions {
  /** Put before every field path (e.g. `network` when the input is embedded in a job spec). */
  readonly prefix?: string;
  /** Put before the message (e.g. `invalid network`). */
  readonly lead?: string;
  /** The field path of the input as a whole (a problem added at `''`) when there is no prefix. */
  readonly root?: string;
}

/** Collects problems; `toError()` turns them into one 400 with `details.problems`. */
export class Problems {
  private readonly list: Problem[] = [];
  private dropped = 0;
  private readonly prefix: string;
  private readonly lead: string | undefined;
  private readonly root: string;

  constructor(options: ProblemsOptions = {}) {
    this.prefix = options.prefix ?? '';
    this.lead = options.lead;
    this.root = options.root ?? '';
  }

  add(field: string, message: string): void {
    const p = this.prefix;
    // `''` is the input as a whole: the prefix (it names the embedded input), else the root name.
    const at = field === '' ? (p === '' ? this.root : p) : p === '' ? field : field.startsWith('[') ? `${p}${field}` : `${p}.${field}`;
    if (this.list.length < MAX_REPORTED_PROBLEMS) this.list.push({ field: at, message });
    else this.dropped += 1;
  }

  get count(): number {
    return this.list.length + this.dropped;
  }

  /** The error to throw, or undefined when nothing was recorded. */
  toError(): StrataError | undefined {
    const first = this.list[0];
    if (first === undefined) return undefined;
    const parts = this.list.map((p) => `${p.field}: ${p.message}`);
    if (this.dropped > 0) parts.push(`and ${this.dropped} more problem${this.dropped === 1 ? '' : 's'}`);
    return badRequest(`${this.lead === undefined ? '' : `${this.lead}: `}${parts.join('; ')}`, { field: first.field, problems: [...this.list] });
  }
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `base.key`, or `base["odd key"]` when the key is not a plain identifier. */
export function keyPath(base: string, key: string): string {
  const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  if (IDENT_RE.test(key)) return base === '' ? shown : `${base}.${shown}`;
  return `${base}[${JSON.stringify(shown)}]`;
}

/** `base[i]`. */
export function indexPath(base: string, i: number): string {
  return `${base}[${i}]`;
}

/** A short, safe rendering of a bad value for a message. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v === 'object' ? 'mapping' : typeof v}`;
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), capped at `cap + 1`. */
function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length] ?? cap + 1;
}

const fold = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

/**
 * The allowed name closest to `key`, if any is close: same letters ignoring case, '-' and '_'
 * (`max_attempts` → `maxAttempts`), the only name it begins (`initial` → `initialSeconds`), or a
 * small edit distance (`comand` → `command`).
 */
export function suggest(key: string, allowed: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const folded = fold(key);
  const exact = allowed.find((a) => fold(a) === folded);
  if (exact !== undefined) return exact;
  if (folded.length >= 4) {
    const longer = allowed.filter((a) => fold(a).startsWith(folded));
    if (longer.length === 1) return longer[0]; // `initial` → `initialSeconds`
  }
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const a of allowed) {
    const cap = Math.max(1, Math.floor(Math.min(a.length, folded.length) / 3));
    const d = distance(folded, fold(a), cap);
    if (d <= cap && d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}
