// Worker-thread side of the state-vector engine: receives a list of passes and a slice of each
// pass's blocks, runs them on the shared state (a SharedArrayBuffer), and meets the other workers at
// an Atomics barrier between passes, so a whole gate segment costs one message round trip.
import { parentPort } from 'node:worker_threads';
import type { Pass } from './compile.ts';
import { blockCount } from './compile.ts';
import { runPass } from './kernels.ts';

/** What the pool sends: the whole segment at once. */
export interface WorkerJob {
  readonly state: SharedArrayBuffer;
  readonly precision: 'complex128' | 'complex64';
  readonly passes: readonly Pass[];
  readonly index: number;
  readonly count: number;
  /** Int32Array(2) over a SharedArrayBuffer: [arrived, generation]. */
  readonly barrier: SharedArrayBuffer;
}

/** Waits until all `parties` threads have arrived (sense-reversing via a generation counter). */
export function barrierWait(ctl: Int32Array, parties: number): void {
  const gen = Atomics.load(ctl, 1);
  if (Atomics.add(ctl, 0, 1) === parties - 1) {
    Atomics.store(ctl, 0, 0);
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
    return;
  }
  while (Atomics.load(ctl, 1) === gen) Atomics.wait(ctl, 1, gen);
}

let scratch = new Float64Array(0);

function run(job: WorkerJob): void {
  const state = job.precision === 'complex128' ? new Float64Array(job.state) : new Float32Array(job.state);
  const ctl = new Int32Array(job.barrier);
  for (const pass of job.passes) {
    const need = 2 * 2 ** pass.blockBits;
    if (scratch.length < need) scratch = new Float64Array(need);
    const blocks = blockCount(pass);
    const b0 = Math.floor((blocks * job.index) / job.count);
    const b1 = Math.floor((blocks * (job.index + 1)) / job.count);
    runPass(state, pass, b0, b1, scratch);
    barrierWait(ctl, job.count);
  }
}

parentPort?.on('message', (job: WorkerJob) => {
  try {
    run(job);
    parentPort?.postMessage({ ok: true });
  } catch (e) {
    parentPort?.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
  }
});
