// Blob garbage collection over the whole platform: the database side of the sweep in
// blobs/gc.ts (which holds the protocol and the precise list of what it cannot protect), the
// admin route `POST /api/v1/admin/blobs/gc` and its one audit event.
//
// Each project has its own blob store (jobs' `projectBlobStores`: <blobs>/projects/<project id>),
// and every row that names a blob names one in its own project's store. Each module that owns such
// rows reports them (`BlobReferences`): tracking (run and logged-model artifacts), jobs (job
// artifacts) and the registry (model version files); this file joins the three.
//
// A platform-wide collection also sweeps MLflow multipart uploads (api/mlflow/multipart.ts): uploads
// past their expiry lose their rows and staged parts, and staging directories no upload names
// (a crash between creating one and recording it) go once older than the grace period.
//
// Safety beyond the sweep's protocol: only stores of projects this database knows are swept (a
// store directory of no known project — a server pointed at the wrong database — is reported and
// left alone); a dry run is the default; one collection runs at a time in a server.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Actor, AuditLog, RouteSpec } from '../access/index.ts';
import { defineRoute } from '../access/index.ts';
import type { BlobReferences, BlobStore, BlobTally, SweepReport } from '../blobs/index.ts';
import { emptySweepReport, sweepBlobStore, unionReferences } from '../blobs/index.ts';
import type { Clock } from '../kernel/index.ts';
import { NAME_PATTERN, conflict, notFound } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { jobBlobReferences } from '../jobs/index.ts';
import { registryBlobReferences } from '../registry/index.ts';
import { trackingBlobReferences } from '../tracking/index.ts';
import type { MultipartSweepReport } from './mlflow/index.ts';
import { multipartStaging, sweepMultipartUploads } from './mlflow/index.ts';

/** Default grace period: an upload's blob is at least this old before an unreferenced one may go. */
export const DEFAULT_GRACE_SECONDS = 24 * 3600;

/** The rows that name blobs of one project's store, as the sweep asks about them: each module reports its own. */
export function projectBlobReferences(db: Store['db'], projectId: string): BlobReferences {
  return unionReferences([trackingBlobReferences(db, projectId), jobBlobReferences(db, projectId), registryBlobReferences(db, projectId)]);
}

export interface BlobGcOptions {
  /** Delete nothing; report what would be deleted. */
  readonly dryRun: boolean;
  readonly graceSeconds: number;
  /** One project by name; every project when absent. */
  readonly project?: string;
  /** Stops the collection between two blobs (the report says it is incomplete). */
  readonly signal?: AbortSignal;
}

/** One project's part of a collection. */
export interface ProjectGcReport extends SweepReport {
  readonly project: string;
  readonly projectId: string;
}

export interface BlobGcResult {
  readonly dryRun: boolean;
  readonly graceSeconds: number;
  /** Blobs stored or refreshed after this time were kept whatever their references. */
  readonly cutoff: string;
  /** False when a project's sweep was stopped or failed. */
  readonly complete: boolean;
  readonly projects: readonly ProjectGcReport[];
  readonly totals: { readonly [K in TallyKey]: BlobTally } & { readonly bytesFreed: number };
  /** Store directories of no project in this database: left alone. */
  readonly unknownStores: readonly string[];
  /** Expired and abandoned MLflow multipart uploads removed (would be, in a dry run); platform-wide collections only. */
  readonly multipartUploads?: MultipartSweepReport;
}

const TALLIES = ['scanned', 'referenced', 'young', 'rescued', 'reclaimable', 'deleted', 'failed'] as const;
type TallyKey = (typeof TALLIES)[number];

export interface BlobGcDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** The blobs root (`<home>/blobs`): project stores live under `projects/<project id>`. */
  readonly blobsRoot: string;
  readonly blobsFor: (projectId: string) => Promise<BlobStore>;
}

/** Runs collections over every project's store (or one project's). */
export class BlobGc {
  private running = false;

  constructor(private readonly deps: BlobGcDeps) {}

  /**
   * One collection. Not a dry run: audited as one `blobs.gc` event with the totals, also when a
   * sweep fails midway (outcome `failure`, with what was deleted before it failed).
   */
  async run(actor: Actor, options: BlobGcOptions): Promise<BlobGcResult> {
    if (this.running) throw conflict('a blob garbage collection is already running on this server: wait for it to finish, then run again');
    this.running = true;
    try {
      return await this.collect(actor, options);
    } finally {
      this.running = false;
    }
  }

  private async collect(actor: Actor, options: BlobGcOptions): Promise<BlobGcResult> {
    const { store, audit, clock, blobsRoot, blobsFor } = this.deps;
    const { dryRun, graceSeconds, signal } = options;
    const all = await store.db.selectFrom('projects').select(['id', 'name']).orderBy('name').execute();
    const projects = options.project === undefined ? all : all.filter((p) => p.name === options.project);
    if (options.project !== undefined && projects.length === 0) throw notFound('project', options.project);
    const known = new Set(all.map((p) => p.id));
    const storesDir = join(blobsRoot, 'projects');
    const dirs = existsSync(storesDir) ? await readdir(storesDir) : [];
    const onDisk = new Set(dirs);
    const unknownStores = options.project === undefined ? dirs.filter((d) => !known.has(d)).sort() : [];

    const cutoff = clock.now() - graceSeconds * 1000;
    const reports: ProjectGcReport[] = [];
    let failure: { readonly error: unknown } | undefined;
    for (const p of projects) {
      // A project that never stored a blob has no store: opening one would create it.
      if (!onDisk.has(p.id)) continue;
      const report = emptySweepReport();
      try {
        await sweepBlobStore(await blobsFor(p.id), projectBlobReferences(store.db, p.id), { cutoff, dryRun, ...(signal === undefined ? {} : { signal }) }, report);
      } catch (error) {
        failure = { error };
      }
      reports.push({ project: p.name, projectId: p.id, ...report });
      if (failure !== undefined || signal?.aborted === true) break;
    }

    const totals = Object.fromEntries(TALLIES.map((k) => [k, { blobs: 0, bytes: 0 }])) as Record<TallyKey, BlobTally>;
    for (const r of reports) {
      for (const k of TALLIES) {
        totals[k].blobs += r[k].blobs;
        totals[k].bytes += r[k].bytes;
      }
    }
    let multipartUploads: MultipartSweepReport | undefined;
    if (options.project === undefined && failure === undefined && signal?.aborted !== true) {
      try {
        multipartUploads = await sweepMultipartUploads(store, multipartStaging(blobsRoot), { now: clock.now(), orphanCutoff: cutoff, dryRun });
      } catch (error) {
        failure = { error };
      }
    }
    const complete = failure === undefined && reports.every((r) => r.complete) && signal?.aborted !== true;
    const result: BlobGcResult = {
      dryRun,
      graceSeconds,
      cutoff: new Date(cutoff).toISOString(),
      complete,
      projects: reports,
      totals: { ...totals, bytesFreed: totals.deleted.bytes },
      unknownStores,
      ...(multipartUploads === undefined ? {} : { multipartUploads }),
    };
    if (!dryRun) {
      const only = options.project === undefined ? undefined : projects[0];
      await audit.appendAlone({
        actor: actor.principal?.id ?? 'system',
        requestId: actor.requestId,
        action: 'blobs.gc',
        resource: only === undefined ? 'platform/blobs' : `project/${only.id}/blobs`,
        project: only?.id ?? null,
        outcome: failure === undefined ? 'success' : 'failure',
        details: {
          graceSeconds,
          cutoff: result.cutoff,
          complete,
          projects: reports.length,
          ...Object.fromEntries(TALLIES.map((k) => [k, totals[k]])),
          bytesFreed: totals.deleted.bytes,
          ...(multipartUploads === undefined ? {} : { multipartUploads }),
          ...(failure === undefined ? {} : { error: failure.error instanceof Error ? failure.error.message : String(failure.error) }),
        },
      });
    }
    if (failure !== undefined) throw failure.error;
    return result;
  }
}

const Strict = { additionalProperties: false } as const;

/** The admin route (platform administrators only). */
export function blobGcRoutes({ gc }: { readonly gc: BlobGc }): RouteSpec[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/admin/blobs/gc',
      summary:
        'Garbage-collect unreferenced blobs of every project (or one): a dry run unless dryRun is false; blobs younger than graceSeconds (default 86400) are kept. Audited as blobs.gc when not a dry run.',
      tags: ['admin'],
      schema: {
        body: Type.Optional(
          Type.Object(
            {
              dryRun: Type.Optional(Type.Boolean({ description: 'delete nothing, report what would go (default true)' })),
              graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 * 365 * 86400, description: `keep blobs stored or re-uploaded within this many seconds (default ${DEFAULT_GRACE_SECONDS})` })),
              project: Type.Optional(Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'only this project' })),
            },
            Strict,
          ),
        ),
      },
      authz: { action: 'blobs.gc', resource: () => ({ kind: 'platform' }) },
      handler: ({ body, actor, signal }) =>
        gc.run(actor, {
          dryRun: body?.dryRun ?? true,
          graceSeconds: body?.graceSeconds ?? DEFAULT_GRACE_SECONDS,
          ...(body?.project === undefined ? {} : { project: body.project }),
          signal,
        }),
    }),
  ];
}
