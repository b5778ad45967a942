// CLI contexts: named (server URL, token) pairs in a 0600 JSON file, and how a command finds its
// server and token: flags > STRATA_SERVER / STRATA_TOKEN > the current context > a local server's
// admin token at $STRATA_HOME/admin.token.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface Context {
  readonly server: string;
  readonly token?: string;
}
export interface CliConfig {
  current?: string;
  contexts: Record<string, Context>;
}

export const DEFAULT_PORT = 7070;

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['STRATA_CONFIG'] !== undefined && env['STRATA_CONFIG'] !== '') return resolve(env['STRATA_CONFIG']);
  const base = env['XDG_CONFIG_HOME'] !== undefined && env['XDG_CONFIG_HOME'] !== '' ? env['XDG_CONFIG_HOME'] : join(homedir(), '.config');
  return join(base, 'strata', 'config.json');
}

/** Directory for pinned audit keys and checkpoints (trust anchors), next to the config file. */
export function trustDir(server: string, env: NodeJS.ProcessEnv = process.env): string {
  const u = new URL(server);
  return join(dirname(configPath(env)), 'trust', `${u.hostname.replace(/[^a-zA-Z0-9.-]/g, '_')}_${u.port === '' ? (u.protocol === 'https:' ? '443' : '80') : u.port}`);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const p = configPath(env);
  if (!existsSync(p)) return { contexts: {} };
  const parsed = JSON.parse(readFileSync(p, 'utf8')) as Partial<CliConfig>;
  return { ...(parsed.current === undefined ? {} : { current: parsed.current }), contexts: parsed.contexts ?? {} };
}

export function writeConfig(cfg: CliConfig, env: NodeJS.ProcessEnv = process.env): void {
  const p = configPath(env);
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, p);
}

export function strataHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['STRATA_HOME'] !== undefined && env['STRATA_HOME'] !== '' ? env['STRATA_HOME'] : '.strata');
}

export function isLocalServer(server: string): boolean {
  try {
    const h = new URL(server).hostname;
    return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '::1';
  } catch {
    return false;
  }
}

export interface ConnectionFlags {
  readonly server?: string;
  readonly token?: string;
  readonly context?: string;
}

/** Where to send requests and with which token. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): { server: string; token: string | undefined; source: string } {
  const cfg = readConfig(env);
  const ctxName = flags.context ?? env['STRATA_CONTEXT'] ?? cfg.current;
  const ctx = ctxName === undefined ? undefined : cfg.contexts[ctxName];
  if (flags.context !== undefined && ctx === undefined) throw new Error(`no context named '${flags.context}': see \`strata context list\``);
  const server = (flags.server ?? env['STRATA_SERVER'] ?? ctx?.server ?? `http://127.0.0.1:${env['STRATA_PORT'] ?? DEFAULT_PORT}`).replace(/\/+$/, '');
  if (flags.token !== undefined) return { server, token: flags.token, source: '--token' };
  if (env['STRATA_TOKEN'] !== undefined && env['STRATA_TOKEN'] !== '') return { server, token: env['STRATA_TOKEN'], source: 'STRATA_TOKEN' };
  if (ctx !== undefined && ctx.server.replace(/\/+$/, '') === server && ctx.token !== undefined) return { server, token: ctx.token, source: `context ${ctxName}` };
  if (isLocalServer(server)) {
    const p = join(strataHome(env), 'admin.token');
    if (existsSync(p)) return { server, token: readFileSync(p, 'utf8').trim(), source: p };
  }
  return { server, token: undefined, source: 'none' };
}
