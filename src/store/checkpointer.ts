// WAL checkpoints for the embedded SQLite database, off the event loop. SQLite's own automatic
// checkpoint runs inside whichever COMMIT crosses the WAL size limit: that COMMIT copies the WAL's
// pages into the database file and fsyncs both, while every request of the process waits on the
// one thread. Here a worker thread with its own connection runs PASSIVE checkpoints on a timer
// instead (they never block the writer and never wait for readers), so the WAL stays short and
// the fsyncs happen on another thread. The main connection keeps a far larger automatic limit as a
// backstop in case the worker falls behind or dies.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Pages (4 KiB) the main connection lets the WAL reach before it checkpoints in a COMMIT itself. */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;

/** The worker's whole source (CommonJS: it is evaluated, not imported). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = ' + workerData.synchronous);
let failures = 0;
const tick = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
  } catch (e) {
    // SQLITE_BUSY: another checkpoint is running; anything else repeating is worth a word.
    failures += 1;
    if (failures === 10) parentPort.postMessage({ error: String(e && e.message || e) });
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

export interface Checkpointer {
  /** Stops the worker; resolves once its connection is closed. */
  close(): Promise<void>;
}

export interface CheckpointerOptions {
  readonly file: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly intervalMs?: number;
  /** Told once when checkpoints keep failing or the worker dies (the backstop then takes over). */
  readonly onProblem?: (message: string) => void;
}

/** Starts the checkpoint thread for a WAL-mode database file. */
export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    workerData: { file: options.file, driver, synchronous: options.synchronous, intervalMs: options.intervalMs ?? 200 },
  });
  worker.unref();
  let stopping = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: { error?: string }) => {
    if (m.error !== undefined) options.onProblem?.(`background WAL checkpoints are failing: ${m.error}`);
  });
  worker.on('error', (e) => {
    if (!stopping) options.onProblem?.(`the WAL checkpoint thread failed: ${e.message}`);
  });
  return {
    async close() {
      if (stopping) return exited;
      stopping = true;
      worker.ref(); // an unref'd worker would let the event loop end while we wait for it
      worker.postMessage('stop');
      // A worker that does not finish its last checkpoint promptly is stopped outright.
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      timer.unref();
      await exited;
      clearTimeout(timer);
    },
  };
}
