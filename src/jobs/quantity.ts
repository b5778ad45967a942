// Resource quantities in the Kubernetes `resource.Quantity` notation ("100m", "0.5", "64Mi", "1e9",
// "500M"), parsed exactly (BigInt arithmetic, no floating-point drift) into integers: CPU in
// millicores, memory in bytes. Written here rather than taken from a library because the grammar is
// small and no maintained npm package implements it without pulling in a Kubernetes client.
//
// Grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go):
//   quantity ::= signedNumber suffix
//   suffix   ::= binarySI (Ki Mi Gi Ti Pi Ei) | decimalExponent (e|E signedNumber) | decimalSI (n u m "" k M G T P E)
//   number   ::= digits | digits.digits | digits. | .digits
// Like Kubernetes, fractional results round up ("1u" CPU is 1 millicore). Unlike Kubernetes,
// memory refuses the sub-unit suffixes n/u/m: "500m" of memory is half a byte, which is never meant.

import { badRequest } from '../kernel/index.ts';

/** Outcome of a quantity parse: expected failures are values, not exceptions. */
export type QuantityResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly reason: string };

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;
const MAX_QUANTITY_CHARS = 64;

const BINARY_POWER: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_POWER: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const CPU_HINT = 'use e.g. 100m, 0.5 or 2';
const MEMORY_HINT = 'use e.g. 64Mi, 1Gi or 500M';

/** Largest CPU quantity accepted, in millicores (JavaScript's largest exact integer). */
export const MAX_CPU_MILLIS = Number.MAX_SAFE_INTEGER;
/** Largest memory quantity accepted, in bytes (2^53 − 1, about 8 PiB: any real replica fits). */
export const MAX_MEMORY_BYTES = Number.MAX_SAFE_INTEGER;

function describe(q: unknown): string {
  if (typeof q === 'string') return JSON.stringify(q.length > 40 ? `${q.slice(0, 40)}…` : q);
  if (typeof q === 'number') return String(q);
  if (q === null) return 'null';
  return `a ${Array.isArray(q) ? 'list' : typeof q}`;
}

/**
 * Converts a quantity to an integer number of units of 10^-unitExp10 (0 = the base unit, 3 =
 * milli), rounding up; or the reason it is not a positive quantity.
 */
function scaled(q: unknown, unitExp10: number, allowSubUnit: boolean, hint: string): QuantityResult {
  let text: string;
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) return { ok: false, reason: `${describe(q)} is not a quantity; ${hint}` };
    text = String(q);
  } else if (typeof q === 'string') {
    text = q;
  } else {
    return { ok: false, reason: `expected a quantity, got ${describe(q)}; ${hint}` };
  }
  if (text.length > MAX_QUANTITY_CHARS) return { ok: false, reason: `${describe(text)} is too long to be a quantity; ${hint}` };
  const m = QUANTITY_RE.exec(text);
  if (m === null) return { ok: false, reason: `${describe(text)} is not a quantity; ${hint}` };
  const [, sign = '', num = '', binary, exponent, decimal] = m;
  if (decimal !== undefined && !allowSubUnit && (DECIMAL_POWER[decimal] ?? 0) < 0) {
    return { ok: false, reason: `${describe(text)} uses '${decimal}' (a fraction of a byte); ${hint} (M and Mi are mega- and mebibytes)` };
  }
  const [intPart = '', fracPart = ''] = num.split('.');
  const mantissa = BigInt(`${intPart}${fracPart}` === '' ? '0' : `${intPart}${fracPart}`);
  if (mantissa === 0n) return { ok: false, reason: `${describe(text)} must be greater than zero` };
  if (sign === '-') return { ok: false, reason: `${describe(text)} is negative; ${hint}` };
  let exp10 = unitExp10 - fracPart.length;
  if (exponent !== undefined) exp10 += Number(exponent); // may be ±Infinity for absurd exponents; handled below
  if (decimal !== undefined) exp10 += DECIMAL_POWER[decimal] ?? 0;
  const binaryPower = binary === undefined ? 0 : (BINARY_POWER[binary] ?? 0);
  // The mantissa has at most 64 digits and the binary factor is at most 2^60 < 10^19, so beyond
  // these bounds the value is certainly too large (or certainly below one unit, which rounds up to 1).
  if (exp10 > 40) return { ok: false, reason: `${describe(text)} is too large` };
  let value: bigint;
  if (exp10 < -100) {
    value = 1n;
  } else {
    const numerator = mantissa * (1n << BigInt(binaryPower)) * 10n ** BigInt(Math.max(0, exp10));
    const denominator = 10n ** BigInt(Math.max(0, -exp10));
    value = (numerator + denominator - 1n) / denominator;
  }
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `${describe(text)} is too large` };
  return { ok: true, value: Number(value) };
}

/** Parses a CPU quantity ("100m", "0.5", "2", or a number of cores) into millicores; never throws. */
export function tryParseCpu(q: unknown): QuantityResult {
  return scaled(q, 3, true, CPU_HINT);
}

/** Parses a memory quantity ("64Mi", "1Gi", "500M", "1e9", or a number of bytes) into bytes; never throws. */
export function tryParseMemory(q: unknown): QuantityResult {
  return scaled(q, 0, false, MEMORY_HINT);
}

/**
 * Parses a CPU quantity in Kubernetes notation into an integer number of millicores (rounded up):
 * "100m" → 100, "0.5" → 500, "2" → 2000, 1.5 → 1500. Throws a 400 naming `field` otherwise.
 */
export function parseCpu(q: string | number, field = 'cpu'): number {
  const r = tryParseCpu(q);
  if (!r.ok) throw badRequest(`${field}: ${r.reason}`, { field });
  return r.value;
}

/**
 * Parses a memory quantity in Kubernetes notation into an integer number of bytes (rounded up):
 * "64Mi" → 67108864, "500M" → 500000000, "1e9" → 1000000000. Binary suffixes Ki…Ei are powers of
 * 1024, decimal k…E powers of 1000. Throws a 400 naming `field` otherwise.
 */
export function parseMemory(q: string | number, field = 'memory'): number {
  const r = tryParseMemory(q);
  if (!r.ok) throw badRequest(`${field}: ${r.reason}`, { field });
  return r.value;
}

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${what} must be a non-negative integer, got ${String(n)}`, { field: what });
}

/** Formats millicores canonically: whole cores as "2", otherwise "1500m". Inverse of {@link parseCpu}. */
export function formatCpu(millis: number): string {
  checkCount(millis, 'cpu');
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

const BINARY_SUFFIXES: readonly (readonly [string, number])[] = [['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]];
const DECIMAL_SUFFIXES: readonly (readonly [string, number])[] = [['P', 1e15], ['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3]];

/**
 * Formats bytes canonically with the largest suffix that divides them exactly, binary first
 * (67108864 → "64Mi", 500000000 → "500M", 1000 → "1k", 1023 → "1023"). Inverse of {@link parseMemory}.
 */
export function formatMemory(bytes: number): string {
  checkCount(bytes, 'memory');
  if (bytes === 0) return '0';
  for (const list of [BINARY_SUFFIXES, DECIMAL_SUFFIXES]) {
    for (const [suffix, size] of list) {
      if (bytes % size === 0) return `${bytes / size}${suffix}`;
    }
  }
  return String(bytes);
}
