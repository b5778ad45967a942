// Arithmetic on resource vectors. The engine keeps its running totals in small mutable vectors and
// hands out readonly copies; every check compares all three dimensions.
import type { ResourceName, ResourceVector } from './model.ts';
import { RESOURCES } from './model.ts';

/** A mutable resource vector (internal accounting). */
export interface MutableVector {
  cpuMillis: number;
  memoryBytes: number;
  devices: number;
}

export const ZERO: ResourceVector = Object.freeze({ cpuMillis: 0, memoryBytes: 0, devices: 0 });

/** A mutable copy. */
export const copy = (v: ResourceVector): MutableVector => ({ cpuMillis: v.cpuMillis, memoryBytes: v.memoryBytes, devices: v.devices });

/** `v × k`. */
export const scale = (v: ResourceVector, k: number): MutableVector => ({ cpuMillis: v.cpuMillis * k, memoryBytes: v.memoryBytes * k, devices: v.devices * k });

/** `into += v × k` (k may be negative). */
export function addInto(into: MutableVector, v: ResourceVector, k = 1): void {
  into.cpuMillis += v.cpuMillis * k;
  into.memoryBytes += v.memoryBytes * k;
  into.devices += v.devices * k;
}

/** Every dimension of `a` is ≤ the same dimension of `b`. */
export const fitsIn = (a: ResourceVector, b: ResourceVector): boolean => a.cpuMillis <= b.cpuMillis && a.memoryBytes <= b.memoryBytes && a.devices <= b.devices;

/** How many copies of `per` fit in `free` (Infinity when `per` is zero). */
export function howMany(per: ResourceVector, free: ResourceVector): number {
  let n = Infinity;
  if (per.cpuMillis > 0) n = Math.min(n, Math.floor(free.cpuMillis / per.cpuMillis));
  if (per.memoryBytes > 0) n = Math.min(n, Math.floor(free.memoryBytes / per.memoryBytes));
  if (per.devices > 0) n = Math.min(n, Math.floor(free.devices / per.devices));
  return n;
}

/** Throws unless every dimension is a finite number ≥ 0. */
export function isValidVector(v: ResourceVector): boolean {
  return RESOURCES.every((r: ResourceName) => Number.isFinite(v[r]) && v[r] >= 0);
}
