// Wires the platform together from a configuration: store, keyring, audit signing key, services,
// routes, HTTP app. `strata server` and the in-process tests use the same function.
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { AccessService, AuditLog, SecretsService, accessRoutes } from '../access/index.ts';
import { loadOrCreateSigningKey } from '../access/audit/index.ts';
import { loadKeyring } from '../access/secrets/index.ts';
import type { Clock, IdGenerator } from '../kernel/index.ts';
import { randomIds, systemClock } from '../kernel/index.ts';
import { loadComputeConfig } from '../compute/index.ts';
import type { ComputeConfig } from '../compute/index.ts';
import { JobArtifacts, JobService, carbonRoutes, jobRoutes, projectBlobStores, startControllers } from '../jobs/index.ts';
import type { Controllers } from '../jobs/index.ts';
import { openStore } from '../store/index.ts';
import { LoggedModelArtifacts, LoggedModels, RunArtifacts, TrackingService, artifactRoutes, trackingRoutes } from '../tracking/index.ts';
import { MlflowMultipartUploads, RunDocuments, checkedPublicUrl, registerRunDocumentMetrics, mlflowArtifactRoutes, mlflowLoggedModelRoutes, mlflowRegistryRoutes, mlflowRoutes, multipartStaging } from './mlflow/index.ts';
import { RegistryService, registryRoutes, runArtifactSources } from '../registry/index.ts';
import type { ModelSourceResolver } from '../registry/index.ts';
import type { Store } from '../store/index.ts';
import { buildApp } from './app.ts';
import { BlobGc, blobGcRoutes } from './blob-gc.ts';
import { attemptRuns } from './job-runs.ts';
import { engineKindValidators } from './engine-kinds.ts';
import type { StrataApp } from './app.ts';

export interface PlatformConfig {
  /** STRATA_HOME: database file, blobs, keys, checkpoints. */
  readonly home: string;
  /** Database URL; default: SQLite file under home. */
  readonly databaseUrl?: string;
  readonly logger?: Logger | false;
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly bodyLimit?: number;
  readonly sqliteSync?: 'normal' | 'full';
  /** Regions and pools file (YAML/JSON); default: one region `local` with one CPU pool. */
  readonly computeConfigPath?: string;
  /** Run the placement and lease-rescue loops (default true). */
  readonly controllers?: boolean;
  readonly leaseSeconds?: number;
  /** Where model version sources (runs:/…, mlflow-artifacts:/…) are looked up; default: the run artifact trees. */
  readonly resolveModelSource?: ModelSourceResolver;
  /**
   * The URL clients reach this server at (e.g. behind a reverse proxy: https://mlflow.example.com/strata),
   * for URLs the server hands out (multipart part URLs); default: built from each request's Host.
   */
  readonly publicUrl?: string;
}

export interface Platform {
  readonly config: PlatformConfig;
  readonly store: Store;
  readonly access: AccessService;
  readonly audit: AuditLog;
  readonly secrets: SecretsService;
  readonly jobs: JobService;
  readonly tracking: TrackingService;
  /** The model registry. */
  readonly registry: RegistryService;
  /** Run artifact trees (MLflow artifact proxy and the Strata API). */
  readonly runArtifacts: RunArtifacts;
  /** MLflow 3.x logged models and their artifact trees. */
  readonly loggedModels: LoggedModels;
  readonly modelArtifacts: LoggedModelArtifacts;
  readonly compute: ComputeConfig;
  readonly app: StrataApp;
  /** Set on the first start only: the platform-admin token, to show once. */
  readonly bootstrapToken: string | null;
  readonly paths: { readonly home: string; readonly blobs: string; readonly checkpoints: string; readonly adminToken: string; readonly publicKey: string; readonly work: string };
  /** Registers something to stop before the platform closes (e.g. the local agent). */
  onClose(fn: () => Promise<void>): void;
  close(): Promise<void>;
}

export const VERSION = '0.1.0';

export async function createPlatform(config: PlatformConfig): Promise<Platform> {
  const home = resolve(config.home);
  const paths = {
    home,
    blobs: join(home, 'blobs'),
    checkpoints: join(home, 'checkpoints'),
    adminToken: join(home, 'admin.token'),
    publicKey: join(home, 'audit-signing.pub'),
    work: join(home, 'work'),
  };
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(paths.blobs, { recursive: true });
  mkdirSync(paths.checkpoints, { recursive: true });
  const clock = config.clock ?? systemClock;
  const ids = config.ids ?? randomIds;
  const { keyring, source } = loadKeyring({ home, generate: true, ...(config.env === undefined ? {} : { env: config.env }) });
  const signingKey = await loadOrCreateSigningKey(home);
  const compute = loadComputeConfig(config.computeConfigPath);
  const publicUrl = config.publicUrl === undefined ? undefined : checkedPublicUrl(config.publicUrl);
  const sideLog = config.logger === undefined || config.logger === false ? undefined : config.logger;
  const store = await openStore({
    url: config.databaseUrl ?? join(home, 'strata.db'),
    ...(config.sqliteSync === undefined ? {} : { sqliteSync: config.sqliteSync }),
    ...(sideLog === undefined ? {} : { warn: (message: string) => sideLog.warn(message) }),
  });
  try {
    const audit = new AuditLog(store, clock, paths.checkpoints, signingKey);
    const access = new AccessService(store, audit, ids, clock);
    const secrets = new SecretsService(store, audit, clock, keyring, source);
    const blobsFor = projectBlobStores(paths.blobs, clock);
    const artifacts = new JobArtifacts(store, audit, clock, blobsFor);
    const tracking = new TrackingService(store, audit, clock);
    const runArtifacts = new RunArtifacts(store, audit, clock, blobsFor);
    const registry = new RegistryService({ store, audit, clock, tracking, blobsFor, resolveSource: config.resolveModelSource ?? runArtifactSources(store) });
    const loggedModels = new LoggedModels(store, audit, clock, registry);
    const modelArtifacts = new LoggedModelArtifacts(store, clock, blobsFor);
    const jobs = new JobService(store, audit, secrets, compute, ids, clock, {
      artifacts,
      runs: attemptRuns(tracking, access, clock),
      onError: (what, e) => sideLog?.warn({ err: e }, `${what} failed`),
      ...(config.leaseSeconds === undefined ? {} : { leaseSeconds: config.leaseSeconds }),
    });
    const boot = await access.bootstrap();
    if (boot !== null) {
      writeFileSync(paths.adminToken, `${boot.token}\n`, { mode: 0o600 });
      chmodSync(paths.adminToken, 0o600);
      await audit.checkpoint();
    }
    const runDocuments = new RunDocuments(tracking, loggedModels);
    const app = await buildApp({
      access,
      audit,
      ids,
      routes: [...accessRoutes({ access, audit, secrets }), ...jobRoutes({ access, jobs, artifacts, kindValidators: engineKindValidators }), ...carbonRoutes({ jobs }), ...trackingRoutes({ access, tracking, clock }), ...mlflowRoutes({ access, tracking, loggedModels, runDocuments }), ...mlflowLoggedModelRoutes({ access, tracking, loggedModels, modelArtifacts }), ...artifactRoutes({ access, artifacts: runArtifacts }), ...mlflowArtifactRoutes({ tracking, artifacts: runArtifacts, loggedModels, modelArtifacts, multipart: new MlflowMultipartUploads(store, clock, multipartStaging(paths.blobs)), ...(publicUrl === undefined ? {} : { publicUrl }) }), ...registryRoutes({ access, registry }), ...mlflowRegistryRoutes({ access, tracking, registry }), ...blobGcRoutes({ gc: new BlobGc({ store, audit, clock, blobsRoot: paths.blobs, blobsFor }) })],
      logger: config.logger ?? false,
      version: VERSION,
      ...(config.bodyLimit === undefined ? {} : { bodyLimit: config.bodyLimit }),
      health: async () => {
        await sql`select 1`.execute(store.db);
      },
    });
    registerRunDocumentMetrics(app.metrics.registry, runDocuments);
    // Last before the controllers: a start that fails earlier leaves no timer behind.
    await tracking.startMovingRecentMetrics((e) => sideLog?.warn({ err: e }, 'moving recent metric points into the history failed'));
    const controllers: Controllers | undefined =
      config.controllers === false ? undefined : startControllers(jobs, { onError: (what, e) => sideLog?.error({ err: e }, `${what} loop failed`) });
    const closers: (() => Promise<void>)[] = [];
    return {
      config,
      store,
      access,
      audit,
      secrets,
      jobs,
      tracking,
      registry,
      runArtifacts,
      loggedModels,
      modelArtifacts,
      compute,
      app,
      bootstrapToken: boot?.token ?? null,
      paths,
      onClose(fn: () => Promise<void>) {
        closers.push(fn);
      },
      async close() {
        jobs.shutdown();
        for (const fn of closers.reverse()) await fn().catch(() => undefined);
        await controllers?.stop();
        await app.fastify.close();
        await tracking.stopMovingRecentMetrics();
        await audit.checkpointIfGrown().catch(() => undefined);
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
