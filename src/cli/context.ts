// Shared plumbing for command groups: global flags → client + output.
import type { Command } from 'commander';
import { StrataClient } from '../sdk/index.ts';
import { resolveConnection } from './config.ts';
import { makeOut } from './output.ts';
import type { Out } from './output.ts';

export interface GlobalFlags {
  server?: string;
  token?: string;
  context?: string;
  json?: boolean;
}

export interface CommandContext {
  readonly client: StrataClient;
  readonly out: Out;
  readonly server: string;
  readonly flags: GlobalFlags & Record<string, unknown>;
}

/** Builds the client and output for a command from its own and the global flags. */
export function commandContext(cmd: Command): CommandContext {
  const flags = cmd.optsWithGlobals<GlobalFlags & Record<string, unknown>>();
  const conn = resolveConnection({
    ...(flags.server === undefined ? {} : { server: flags.server }),
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags.context === undefined ? {} : { context: flags.context }),
  });
  return { client: new StrataClient({ server: conn.server, token: conn.token }), out: makeOut(flags.json === true), server: conn.server, flags };
}

/** Parses durations like 90s, 30m, 12h, 30d into seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)([smhd])$/.exec(s.trim());
  if (m === null) throw new Error(`invalid duration '${s}': use a number followed by s, m, h or d (e.g. 30d)`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}
