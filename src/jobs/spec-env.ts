// Environment variables for job processes: the name rule, the variables a job may not set (they
// load code into every process of the attempt, including anything the platform runs beside the
// user's command, or they impersonate what the platform itself sets), and the distributed-training
// variables given to each replica of a gang.

import { StrataError } from '../kernel/index.ts';
import type { JobSpec } from './spec-types.ts';

/** POSIX-portable environment variable names (IEEE Std 1003.1 §8.1, minus lower-case-only limits). */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variables a job spec may not set unless the caller is a platform admin
 * (`allowDangerousEnv: true`), each with the reason shown in the error.
 */
export const DANGEROUS_ENV: ReadonlyMap<string, string> = new Map([
  ['LD_PRELOAD', 'it loads a shared library into every process (code injection)'],
  ['LD_LIBRARY_PATH', 'it changes which shared libraries every process loads'],
  ['LD_AUDIT', 'it loads an auditing library into every process (code injection)'],
  ['GLIBC_TUNABLES', 'it reconfigures the C library loader (CVE-2023-4911, "Looney Tunables")'],
  ['GCONV_PATH', 'it makes the C library load conversion modules from a chosen directory'],
  ['NODE_OPTIONS', 'it injects options such as --require into every Node.js process'],
  ['NODE_PATH', 'it changes where every Node.js process resolves modules'],
  ['PYTHONPATH', 'it changes where every Python process imports modules from'],
  ['PYTHONHOME', 'it replaces the standard library of every Python process'],
  ['PYTHONSTARTUP', 'it runs a file in every interactive Python process'],
  ['PYTHONWARNINGS', 'a warning-category entry makes Python import an arbitrary module'],
  ['PERL5OPT', 'it injects options such as -M into every Perl process'],
  ['PERL5LIB', 'it changes where every Perl process loads modules from'],
  ['PERLLIB', 'it changes where every Perl process loads modules from'],
  ['RUBYOPT', 'it injects options such as -r into every Ruby process'],
  ['RUBYLIB', 'it changes where every Ruby process loads libraries from'],
  ['JAVA_TOOL_OPTIONS', 'it injects agents and options into every JVM'],
  ['_JAVA_OPTIONS', 'it injects options into every JVM'],
  ['JDK_JAVA_OPTIONS', 'it injects options into every java launcher'],
  ['BASH_ENV', 'bash runs this file before every non-interactive script'],
  ['ENV', 'sh runs this file when it starts'],
  ['PROMPT_COMMAND', 'bash runs it as a command'],
  ['SHELLOPTS', 'it switches on shell options (with PS4, runs commands) in every bash'],
  ['BASHOPTS', 'it switches on shell options in every bash'],
  ['PS4', 'with xtrace it runs command substitutions in every bash'],
  ['IFS', 'it changes how every shell splits words'],
]);

/** Prefixes of variables a job may not set, with the reason. */
export const DANGEROUS_ENV_PREFIXES: ReadonlyMap<string, string> = new Map([
  ['LD_', 'the dynamic loader reads LD_* variables (library injection)'],
  ['DYLD_', 'the macOS dynamic loader reads DYLD_* variables (library injection)'],
  ['BASH_FUNC_', 'bash imports functions from these (Shellshock, CVE-2014-6271)'],
  ['STRATA_', 'the platform sets STRATA_* variables itself'],
  ['MLFLOW_TRACKING_', 'the platform sets MLFLOW_TRACKING_* variables itself'],
]);

/** Variables the platform sets on each replica of a gang (`replicas > 1`). */
export const GANG_ENV_NAMES: readonly string[] = ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE'];

/** Why `name` is dangerous, or undefined when a job may set it. */
export function dangerousEnvReason(name: string): string | undefined {
  const exact = DANGEROUS_ENV.get(name);
  if (exact !== undefined) return exact;
  for (const [prefix, reason] of DANGEROUS_ENV_PREFIXES) {
    if (name.startsWith(prefix)) return reason;
  }
  return undefined;
}

/** Secret `db-password` → variable `DB_PASSWORD`: upper case, every run of other characters → `_`. */
export function upperSnake(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** The distributed-training variables for one replica of a gang. */
export interface GangEnv {
  readonly RANK: string;
  readonly WORLD_SIZE: string;
  readonly MASTER_ADDR: string;
  readonly MASTER_PORT: string;
  readonly LOCAL_RANK: string;
  readonly LOCAL_WORLD_SIZE: string;
}

function internal(message: string): StrataError {
  return new StrataError('internal', `gangEnv: ${message}`);
}

/**
 * The variables PyTorch `torch.distributed` (env:// rendezvous), Horovod and DeepSpeed read for
 * replica `rank` of `worldSize` (which must equal `spec.replicas`): RANK, WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT, LOCAL_RANK and LOCAL_WORLD_SIZE (replicas of the gang on this node), all as strings. They override anything of the same name in `spec.env`.
 * Throws an internal error on inconsistent arguments (a platform bug, not user input).
 */
export function gangEnv(spec: JobSpec, rank: number, worldSize: number, masterAddr: string, masterPort: number, localRank: number, localWorldSize = 1): GangEnv {
  if (!Number.isSafeInteger(worldSize) || worldSize !== spec.replicas) throw internal(`worldSize ${worldSize} differs from replicas ${spec.replicas}`);
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= worldSize) throw internal(`rank ${rank} is outside 0..${worldSize - 1}`);
  if (!Number.isSafeInteger(localWorldSize) || localWorldSize < 1 || localWorldSize > worldSize) throw internal(`localWorldSize ${localWorldSize} is outside 1..${worldSize}`);
  if (!Number.isSafeInteger(localRank) || localRank < 0 || localRank >= localWorldSize) throw internal(`localRank ${localRank} is outside 0..${localWorldSize - 1}`);
  if (!Number.isSafeInteger(masterPort) || masterPort < 1 || masterPort > 65535) throw internal(`masterPort ${masterPort} is not a TCP port`);
  if (masterAddr === '' || /\s/.test(masterAddr) || masterAddr.includes('\u0000')) throw internal(`masterAddr ${JSON.stringify(masterAddr)} is not a host`);
  return {
    RANK: String(rank),
    WORLD_SIZE: String(worldSize),
    MASTER_ADDR: masterAddr,
    MASTER_PORT: String(masterPort),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(localWorldSize),
  };
}
