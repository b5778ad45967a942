// `strata server`: the control plane as a long-running process. Binds to loopback unless told
// otherwise, prints the bootstrap admin token once, writes signed audit checkpoints periodically
// and on shutdown.
import pino from 'pino';
import { createPlatform } from './platform.ts';
import { startLocalAgent } from './local-agent.ts';
import type { Platform } from './platform.ts';
import { redactUrl } from '../store/index.ts';

export interface ServerOptions {
  readonly home: string;
  readonly host: string;
  readonly port: number;
  readonly databaseUrl?: string;
  readonly logLevel: string;
  readonly checkpointSeconds: number;
  readonly sqliteSync?: 'normal' | 'full';
  /** Start an in-process agent for this machine (default true). */
  readonly localAgent?: boolean;
  readonly computeConfigPath?: string;
  /** Attempt lease length in seconds (agents heartbeat every third of it). */
  readonly leaseSeconds?: number;
  /** The URL clients reach the server at, for URLs it hands out (PlatformConfig.publicUrl). */
  readonly publicUrl?: string;
}

export interface RunningServer {
  readonly platform: Platform;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startServer(opts: ServerOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<RunningServer> {
  const logger = pino({
    level: opts.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.value', '*.token', '*.password'], censor: '[redacted]' },
  });
  const platform = await createPlatform({
    home: opts.home,
    logger,
    ...(opts.databaseUrl === undefined ? {} : { databaseUrl: opts.databaseUrl }),
    ...(opts.sqliteSync === undefined ? {} : { sqliteSync: opts.sqliteSync }),
    ...(opts.computeConfigPath === undefined ? {} : { computeConfigPath: opts.computeConfigPath }),
    ...(opts.leaseSeconds === undefined ? {} : { leaseSeconds: opts.leaseSeconds }),
    ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
  });
  const address = await platform.app.fastify.listen({ host: opts.host, port: opts.port });
  const url = address.replace('[::1]', 'localhost');
  out(`Strata ${'0.1.0'} control plane listening on ${url}`);
  out(`  home:     ${platform.paths.home}`);
  out(`  database: ${opts.databaseUrl === undefined ? `${platform.paths.home}/strata.db (SQLite)` : redactUrl(opts.databaseUrl)}`);
  out(`  regions:  ${platform.compute.regions.map((r) => r.name).join(', ')} (${platform.compute.pools.length} pools)`);
  if (platform.bootstrapToken !== null) {
    out('');
    out('First start: created platform administrator "admin", team "default" and project "default".');
    out(`Admin token (shown once; also saved to ${platform.paths.adminToken}, mode 0600):`);
    out(`  ${platform.bootstrapToken}`);
    out('');
  }
  if (opts.localAgent !== false) {
    const agent = await startLocalAgent(platform, url, { log: (m) => logger.warn(m) });
    out(`  agent:    local agent ${agent.nodeId ?? ''} registered; ready`);
  } else {
    out('  agent:    none (--no-local-agent); ready');
  }
  const timer = setInterval(() => {
    platform.audit.checkpointIfGrown().catch((e: unknown) => logger.error({ err: e }, 'audit checkpoint failed'));
  }, opts.checkpointSeconds * 1000);
  timer.unref();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(timer);
      await platform.close();
    })();
    return stopping;
  };
  return { platform, url, stop };
}
