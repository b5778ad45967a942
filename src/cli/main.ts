// The `strata` command line. One file per command group; errors become one line on stderr and a
// non-zero exit code.
import { Command, CommanderError } from 'commander';
import { StrataApiError } from '../sdk/index.ts';
import { isStrataError } from '../kernel/index.ts';
import { registerAccess } from './access.ts';
import { registerAdmin } from './admin.ts';
import { registerAudit } from './audit.ts';
import { registerJobExec } from './job-exec.ts';
import { registerJobs } from './jobs.ts';
import { registerModels } from './models.ts';
import { registerQuantum } from './quantum.ts';
import { registerSecrets } from './secrets.ts';
import { registerSim } from './sim.ts';
import { registerTracking } from './tracking.ts';
import { registerSpiking } from './spiking.ts';
import { registerServer } from './server.ts';

export function buildProgram(): Command {
  const program = new Command('strata')
    .description('Strata: the AI-infrastructure platform (control plane, scheduler, tracking, registry, serving)')
    .version('0.1.0')
    .option('--server <url>', 'server URL (env STRATA_SERVER; default: current context, else http://127.0.0.1:7070)')
    .option('--token <token>', 'API token (env STRATA_TOKEN; default: current context, else a local server\'s admin.token)')
    .option('--context <name>', 'use this saved context')
    .option('--json', 'machine-readable JSON output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServer(program);
  registerAccess(program);
  registerJobs(program);
  registerSecrets(program);
  registerAudit(program);
  registerTracking(program);
  registerModels(program);
  registerQuantum(program);
  registerSim(program);
  registerSpiking(program);
  registerJobExec(program);
  registerAdmin(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help or the usage error.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const msg = e instanceof StrataApiError || isStrataError(e) || e instanceof Error ? e.message : String(e);
    process.stderr.write(`strata: ${msg}\n`);
    process.exitCode = e instanceof StrataApiError && e.status === 0 ? 3 : 1;
  }
}
