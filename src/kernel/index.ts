// The kernel: imported by every module, imports none of them.
export * from './errors.ts';
export * from './ids.ts';
export * from './clock.ts';
export * from './names.ts';
export * from './random.ts';
export * from './problems.ts';
