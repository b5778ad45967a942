// Problem collection for network descriptions: each check records a problem against a field path
// ("populations[1].neuron.tau_m", "models.va.receptors.ampa.tau") and validation carries on, so one
// error lists up to MAX_REPORTED_PROBLEMS mistakes at once. The same conventions as the job-spec
// parser (jobs/spec-problems.ts), which spiking/ may not import: pure engines depend on kernel only.
import { badRequest } from '../kernel/index.ts';
import type { StrataError } from '../kernel/index.ts';

/** One thing wrong with a description: the field path and what is allowed there. */
export interface NetworkProblem {
  readonly field: string;
  readonly message: string;
}

export const MAX_REPORTED_PROBLEMS = 10;

export class Problems {
  private readonly list: NetworkProblem[] = [];
  private dropped = 0;

  /** `prefix` is put before every field path (e.g. `network` when the description is embedded in a job spec). */
  constructor(private readonly prefix = '') {}

  add(field: string, message: string): void {
    const at = this.prefix === '' ? field : field === 'network' ? this.prefix : field.startsWith('[') ? `${this.prefix}${field}` : `${this.prefix}.${field}`;
    if (this.list.length < MAX_REPORTED_PROBLEMS) this.list.push({ field: at, message });
    else this.dropped += 1;
  }

  get count(): number {
    return this.list.length + this.dropped;
  }

  /** One 400 listing every problem (`details.problems`), or undefined when there is none. */
  toError(): StrataError | undefined {
    const first = this.list[0];
    if (first === undefined) return undefined;
    const parts = this.list.map((p) => `${p.field}: ${p.message}`);
    if (this.dropped > 0) parts.push(`and ${this.dropped} more problem${this.dropped === 1 ? '' : 's'}`);
    return badRequest(`invalid network: ${parts.join('; ')}`, { field: first.field, problems: [...this.list] });
  }
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `base.key`, or `base["odd key"]` when the key is not a plain identifier. */
export function keyPath(base: string, key: string): string {
  const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  if (IDENT_RE.test(key)) return base === '' ? shown : `${base}.${shown}`;
  return `${base}[${JSON.stringify(shown)}]`;
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

/** Levenshtein distance, capped at `cap + 1`. */
function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length] ?? cap + 1;
}

const fold = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

/** The allowed name closest to `key` (same letters ignoring case and '_'/'-', or a small edit), if any. */
export function suggest(key: string, allowed: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const folded = fold(key);
  const same = allowed.find((a) => fold(a) === folded);
  if (same !== undefined) return same;
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
