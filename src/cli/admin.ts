// `strata admin`: operations for platform administrators. `admin blobs gc` deletes blobs that no
// run artifact, logged-model artifact, model-version file or job output names any more (through
// POST /api/v1/admin/blobs/gc; the protocol and its guarantees are in src/blobs/gc.ts). It is a dry
// run unless --apply is given.
import type { Command } from 'commander';
import { commandContext, parseDuration } from './context.ts';

interface Tally {
  readonly blobs: number;
  readonly bytes: number;
}

type TallyKey = 'scanned' | 'referenced' | 'young' | 'rescued' | 'reclaimable' | 'deleted' | 'failed';

interface GcReply {
  readonly dryRun: boolean;
  readonly graceSeconds: number;
  readonly cutoff: string;
  readonly complete: boolean;
  readonly projects: readonly (Record<TallyKey, Tally> & { readonly project: string; readonly errors: readonly string[] })[];
  readonly totals: Record<TallyKey, Tally> & { readonly bytesFreed: number };
  readonly unknownStores: readonly string[];
}

/** 1536 → '1.5 KiB'. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u] ?? ''}`;
}

const cell = (t: Tally): string => `${t.blobs} (${formatBytes(t.bytes)})`;
const blobs = (n: number): string => `${n} blob${n === 1 ? '' : 's'}`;

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('platform operations (platform administrators)');
  const store = admin.command('blobs').description("the projects' content-addressed blob stores");
  store
    .command('gc')
    .description('delete blobs that nothing names any more (artifacts, model versions, job outputs): a dry run unless --apply')
    .option('--apply', 'delete them (default: a dry run that only reports)')
    .option('--grace <duration>', 'keep blobs stored or re-uploaded within this long, e.g. 24h, 90m, 0s (uploads in flight)', '24h')
    .option('-p, --project <project>', 'only this project (default: every project)')
    .addHelpText('after', '\nExamples:\n  strata admin blobs gc                      # dry run over every project\n  strata admin blobs gc --apply --grace 48h  # delete, keeping anything younger than two days\n')
    .action(async (opts: { apply?: boolean; grace: string; project?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const graceSeconds = parseDuration(opts.grace);
      const r = await client.post<GcReply>('/api/v1/admin/blobs/gc', {
        dryRun: opts.apply !== true,
        graceSeconds,
        ...(opts.project === undefined ? {} : { project: opts.project }),
      });
      if (out.json) {
        out.record(r);
        return;
      }
      const rows = r.projects.map((p) => ({
        project: p.project,
        scanned: cell(p.scanned),
        referenced: cell(p.referenced),
        young: cell(p.young),
        rescued: cell(p.rescued),
        [r.dryRun ? 'would delete' : 'deleted']: cell(r.dryRun ? p.reclaimable : p.deleted),
        failed: p.failed.blobs,
      }));
      out.table(r, rows, ['project', 'scanned', 'referenced', 'young', 'rescued', r.dryRun ? 'would delete' : 'deleted', 'failed']);
      const t = r.totals;
      out.line('');
      out.line(`cutoff ${r.cutoff} (grace ${opts.grace}): blobs stored or re-uploaded after it are kept`);
      if (r.dryRun) out.line(`dry run: would delete ${blobs(t.reclaimable.blobs)} (${formatBytes(t.reclaimable.bytes)}); nothing was deleted. Run again with --apply to delete.`);
      else out.line(`deleted ${blobs(t.deleted.blobs)}, freed ${formatBytes(t.bytesFreed)}${t.failed.blobs > 0 ? `; ${t.failed.blobs} deletes failed` : ''}`);
      for (const p of r.projects) for (const e of p.errors) out.line(`  ${p.project}: ${e}`);
      if (r.unknownStores.length > 0) out.line(`left alone: store directories of no project in this database: ${r.unknownStores.join(', ')}`);
      if (!r.complete) out.line('incomplete: the collection stopped early; run it again');
    });
}
