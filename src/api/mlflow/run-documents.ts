// runs/get answers from rendered copies of runs, checked against the run's change counter.
//
// Rendering a run (the whole-run read, then the logged-model read, then MLflow's field names, then
// JSON) is most of what runs/get costs. `runs.version` goes up in the same transaction as every
// change to anything the document holds (migration 0015, tracking's claimRun), so a copy rendered
// from version v is still exact while the run's version is v: checking that is one primary-key read.
// The counter lives in the database, so the check holds on PostgreSQL with several control-plane
// replicas writing, and for a write made by any code path that claims the run.
//
// The version is read in the same statement as the run; the logged-model read comes after it, so
// a copy can only be newer than its version says, never older: the next change moves the version
// past it and the copy is rendered again.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ProjectId } from '../../kernel/index.ts';
import type { LoggedModels, TrackingService } from '../../tracking/index.ts';
import { runJson, withModels } from './protocol.ts';

interface Copy {
  readonly projectId: ProjectId;
  readonly version: number;
  readonly text: string;
}

export interface RunDocumentLimits {
  /** Bytes (UTF-16 code units) of rendered runs kept in all; the oldest go first. */
  readonly maxBytes: number;
  /** Runs rendered larger than this are not kept. */
  readonly maxDocumentBytes: number;
}

export const RUN_DOCUMENT_LIMITS: RunDocumentLimits = { maxBytes: 32 * 2 ** 20, maxDocumentBytes: 2 ** 20 };

export class RunDocuments {
  private readonly copies = new Map<string, Copy>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly tracking: TrackingService,
    private readonly loggedModels: LoggedModels,
    private readonly limits: RunDocumentLimits = RUN_DOCUMENT_LIMITS,
  ) {}

  /** `{"run": …}` of runs/get for run `id` of `projectId` (404 when the project has no such run). */
  async text(projectId: ProjectId, id: string): Promise<string> {
    const copy = this.copies.get(id);
    if (copy !== undefined && copy.projectId === projectId && (await this.tracking.runVersion(projectId, id)) === copy.version) {
      this.hits += 1;
      return copy.text;
    }
    this.misses += 1;
    const { run, version } = await this.tracking.getVersionedRun(projectId, id);
    const models = (await this.loggedModels.runModels(projectId, [id])).get(id);
    const text = JSON.stringify({ run: withModels(runJson(run), models) });
    this.keep(id, { projectId, version, text });
    return text;
  }

  /** How often a kept copy was answered, and how often the run was rendered. */
  stats(): { readonly hits: number; readonly misses: number; readonly runs: number; readonly bytes: number } {
    return { hits: this.hits, misses: this.misses, runs: this.copies.size, bytes: this.bytes };
  }

  private keep(id: string, copy: Copy): void {
    this.forget(id);
    if (copy.text.length > this.limits.maxDocumentBytes) return;
    this.copies.set(id, copy);
    this.bytes += copy.text.length;
    for (const [oldest] of this.copies) {
      if (this.bytes <= this.limits.maxBytes) break;
      this.forget(oldest);
    }
  }

  private forget(id: string): void {
    const old = this.copies.get(id);
    if (old === undefined) return;
    this.copies.delete(id);
    this.bytes -= old.text.length;
  }
}

/**
 * Exports a RunDocuments' figures on /metrics: a hit rate far below one means the runs read are
 * mostly ones being written to, which the copies do not help.
 */
export function registerRunDocumentMetrics(registry: Registry, documents: RunDocuments): void {
  const mirror = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const level = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  mirror('strata_mlflow_run_documents_hits_total', 'runs/get calls answered from a kept copy of the rendered run', () => documents.stats().hits);
  mirror('strata_mlflow_run_documents_misses_total', 'runs/get calls that rendered the run (no copy, or the run changed since)', () => documents.stats().misses);
  level('strata_mlflow_run_documents_runs', 'rendered runs kept for runs/get', () => documents.stats().runs);
  level('strata_mlflow_run_documents_bytes', 'UTF-16 code units of rendered runs kept for runs/get', () => documents.stats().bytes);
}
