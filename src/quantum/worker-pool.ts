// A small pool of worker threads sharing one state vector (SharedArrayBuffer). Each segment of
// passes is one message to every worker; the blocks of each pass are split evenly between them, and
// they synchronise between passes with an Atomics barrier (sv-worker.ts). Workers are started once
// and reused; `close()` ends them (they are unref'd, so an idle pool never keeps a process alive).
import { Worker } from 'node:worker_threads';
import { StrataError } from '../kernel/index.ts';
import type { Pass } from './compile.ts';
import type { Amps } from './kernels.ts';
import type { WorkerJob } from './sv-worker.ts';

function startWorker(): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    // Running from TypeScript sources (tests, tsx): the worker registers tsx before loading its module.
    const tsx = import.meta.resolve('tsx/esm/api');
    const target = new URL('./sv-worker.ts', self).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(code, { eval: true });
  }
  return new Worker(new URL('./sv-worker.js', self));
}

interface Slot {
  readonly worker: Worker;
  pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
}

/** A fixed-size pool of state-vector workers. */
export class WorkerPool {
  private readonly slots: Slot[];
  private closed = false;
  private broken: Error | undefined;

  private constructor(readonly size: number) {
    this.slots = Array.from({ length: size }, () => {
      const slot: Slot = { worker: startWorker(), pending: undefined };
      slot.worker.unref();
      slot.worker.on('message', (m: { ok: boolean; message?: string }) => {
        const p = slot.pending;
        slot.pending = undefined;
        if (p === undefined) return;
        if (m.ok) p.resolve();
        else p.reject(new StrataError('internal', `state-vector worker failed: ${m.message ?? 'unknown error'}`));
      });
      slot.worker.on('error', (e: Error) => this.fail(e));
      slot.worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`state-vector worker exited with code ${code}`));
      });
      return slot;
    });
  }

  /** Starts `size` workers (≥ 1). */
  static create(size: number): WorkerPool {
    if (!Number.isInteger(size) || size < 1) throw new StrataError('bad_request', `a worker pool needs at least 1 thread, got ${String(size)}`);
    return new WorkerPool(size);
  }

  private fail(e: Error): void {
    if (this.broken === undefined && !this.closed) {
      // The others may be waiting at the barrier for the one that failed: end them all.
      for (const s of this.slots) void s.worker.terminate();
    }
    this.broken ??= e;
    for (const s of this.slots) {
      const p = s.pending;
      s.pending = undefined;
      p?.reject(new StrataError('internal', `state-vector worker failed: ${e.message}`));
    }
  }

  /** Runs passes on a SharedArrayBuffer-backed state; resolves when every worker has finished. */
  async run(state: Amps, passes: readonly Pass[]): Promise<void> {
    if (passes.length === 0) return;
    if (this.closed) throw new StrataError('internal', 'the worker pool is closed');
    if (this.broken !== undefined) throw new StrataError('internal', `the worker pool is unusable: ${this.broken.message}`);
    if (!(state.buffer instanceof SharedArrayBuffer)) throw new StrataError('internal', 'worker threads need a state in a SharedArrayBuffer');
    const barrier = new SharedArrayBuffer(8);
    const precision = state instanceof Float64Array ? 'complex128' : 'complex64';
    await Promise.all(
      this.slots.map(
        (slot, index) =>
          new Promise<void>((resolve, reject) => {
            slot.pending = { resolve, reject };
            const job: WorkerJob = { state: state.buffer as SharedArrayBuffer, precision, passes, index, count: this.size, barrier };
            slot.worker.postMessage(job);
          }),
      ),
    );
  }

  /** Ends the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
