// `strata server`: run the control plane.
import type { Command } from 'commander';
import { strataHome, DEFAULT_PORT } from './config.ts';

export function registerServer(program: Command): void {
  program
    .command('server')
    .description('run the Strata control plane (HTTP API, embedded SQLite by default)')
    .option('--host <host>', 'address to bind (env STRATA_HOST)', process.env['STRATA_HOST'] ?? '127.0.0.1')
    .option('--port <port>', 'port to listen on (env STRATA_PORT)', process.env['STRATA_PORT'] ?? String(DEFAULT_PORT))
    .option('--database <url>', 'postgres://... to use PostgreSQL (env STRATA_DATABASE_URL); default: SQLite under --home')
    .option('--home <dir>', 'state directory: database, keys, checkpoints, blobs (env STRATA_HOME)')
    .option('--log-level <level>', 'pino log level (env STRATA_LOG_LEVEL)', process.env['STRATA_LOG_LEVEL'] ?? 'info')
    .option('--checkpoint-interval <seconds>', 'how often to sign an audit checkpoint when the log grew', '60')
    .option('--regions <file>', 'regions and pools (YAML), e.g. examples/regions.yaml (env STRATA_COMPUTE_CONFIG); default: one local region')
    .option('--lease-seconds <n>', 'attempt lease length; a silent agent loses its attempts after this long (env STRATA_LEASE_SECONDS)', process.env['STRATA_LEASE_SECONDS'] ?? '30')
    .option('--no-local-agent', 'do not run an agent for this machine inside the server')
    .option('--sqlite-sync <mode>', 'SQLite durability: normal (survives process crashes) or full (also power loss)', process.env['STRATA_SQLITE_SYNC'] ?? 'normal')
    .option('--public-url <url>', 'the URL clients reach this server at, e.g. behind a reverse proxy (env STRATA_PUBLIC_URL); used for the URLs it hands out, such as multipart part URLs; default: each request\'s Host')
    .action(async (opts: { host: string; port: string; database?: string; home?: string; logLevel: string; checkpointInterval: string; sqliteSync: string; regions?: string; localAgent: boolean; leaseSeconds: string; publicUrl?: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port '${opts.port}': use a number from 0 to 65535`);
      const interval = Number(opts.checkpointInterval);
      if (!Number.isFinite(interval) || interval < 1) throw new Error('--checkpoint-interval must be at least 1 second');
      if (opts.sqliteSync !== 'normal' && opts.sqliteSync !== 'full') throw new Error("--sqlite-sync must be 'normal' or 'full'");
      const leaseSeconds = Number(opts.leaseSeconds);
      if (!Number.isFinite(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 3600) throw new Error('--lease-seconds must be a number from 1 to 3600');
      const regions = opts.regions ?? process.env['STRATA_COMPUTE_CONFIG'];
      const databaseUrl = opts.database ?? (process.env['STRATA_DATABASE_URL'] === '' ? undefined : process.env['STRATA_DATABASE_URL']);
      const publicUrl = opts.publicUrl ?? (process.env['STRATA_PUBLIC_URL'] === '' ? undefined : process.env['STRATA_PUBLIC_URL']);
      // Loaded on demand so client commands do not pay for the server's modules.
      const { startServer } = await import('../api/server.ts');
      const server = await startServer({
        home: opts.home ?? strataHome(),
        host: opts.host,
        port,
        logLevel: opts.logLevel,
        checkpointSeconds: interval,
        sqliteSync: opts.sqliteSync,
        localAgent: opts.localAgent,
        leaseSeconds,
        ...(databaseUrl === undefined ? {} : { databaseUrl }),
        ...(publicUrl === undefined ? {} : { publicUrl }),
        ...(regions === undefined || regions === '' ? {} : { computeConfigPath: regions }),
      });
      await new Promise<void>((resolveStop) => {
        const onSignal = (sig: string): void => {
          process.stdout.write(`\nreceived ${sig}: shutting down\n`);
          // Once shutdown is complete, exit at once: idle keep-alive sockets of the local agent's
          // HTTP pool would otherwise hold the process for their timeout.
          server.stop().then(() => {
            resolveStop();
            process.exit(0);
          }, (e: unknown) => {
            process.stderr.write(`strata: shutdown failed: ${(e as Error).message}\n`);
            process.exit(1);
          });
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
    });
}
