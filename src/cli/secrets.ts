// `strata secrets`: per-project, versioned, encrypted values.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { seg } from '../sdk/index.ts';
import { commandContext } from './context.ts';

type Row = Record<string, unknown>;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets').description('per-project secrets, encrypted at rest (values are never listed)');
  const withProject = (c: Command): Command => c.option('-p, --project <project>', 'project', 'default');

  withProject(secrets.command('list').description('secret names and versions'))
    .action(async (opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ secrets: Row[] }>(`/api/v1/projects/${seg(opts.project)}/secrets`);
      out.table(r, r.secrets, ['name', 'currentVersion', 'updatedAt', 'destroyed']);
    });
  withProject(
    secrets
      .command('set')
      .argument('<name>')
      .option('--value <value>', 'the value (visible in shell history; prefer --from-file or stdin)')
      .option('--from-file <path>', 'read the value from a file')
      .option('--expect-version <n>', 'check-and-set: fail unless the secret is at this version (0 = must not exist)')
      .description('write a new version (value from --value, --from-file, or stdin)'),
  ).action(async (name: string, opts: { project: string; value?: string; fromFile?: string; expectVersion?: string }, cmd: Command) => {
    const { client, out } = commandContext(cmd);
    const value = opts.value ?? (opts.fromFile === undefined ? await readStdin() : readFileSync(opts.fromFile, 'utf8'));
    const body: Row = { value };
    if (opts.expectVersion !== undefined) {
      const n = Number(opts.expectVersion);
      if (!Number.isInteger(n) || n < 0) throw new Error('--expect-version must be a whole number ≥ 0');
      body['expectedVersion'] = n;
    }
    const r = await client.put<Row>(`/api/v1/projects/${seg(opts.project)}/secrets/${seg(name)}`, body);
    out.record(r, ['name', 'currentVersion', 'updatedAt']);
  });
  withProject(secrets.command('get').argument('<name>').option('--version <n>', 'a specific version').description('print a secret value (audited)')).action(
    async (name: string, opts: { project: string; version?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ value: string; version: number }>(`/api/v1/projects/${seg(opts.project)}/secrets/${seg(name)}/value`, opts.version === undefined ? {} : { version: opts.version });
      if (out.json) out.record(r);
      else process.stdout.write(r.value.endsWith('\n') ? r.value : `${r.value}\n`);
    },
  );
  withProject(secrets.command('describe').argument('<name>').description('versions of a secret')).action(async (name: string, opts: { project: string }, cmd: Command) => {
    const { client, out } = commandContext(cmd);
    const r = await client.get<{ versions: Row[] }>(`/api/v1/projects/${seg(opts.project)}/secrets/${seg(name)}`);
    out.table(r, r.versions, ['version', 'createdAt', 'createdBy', 'destroyed']);
  });
  withProject(secrets.command('delete').argument('<name>').description('destroy every version permanently')).action(async (name: string, opts: { project: string }, cmd: Command) => {
    const { client, out } = commandContext(cmd);
    const r = await client.delete<Row>(`/api/v1/projects/${seg(opts.project)}/secrets/${seg(name)}`);
    out.record(r, ['name', 'currentVersion', 'destroyed']);
  });
  secrets
    .command('rotate-key')
    .description('add a new master-key version used for new secrets (platform administrators)')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.post<Row>('/api/v1/secrets/keys/rotate'));
    });
  secrets
    .command('rewrap')
    .option('--retire-old', 'afterwards refuse to decrypt with older master-key versions')
    .description('re-wrap every data key under the current master key (values are not decrypted)')
    .action(async (opts: { retireOld?: boolean }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.post<Row>('/api/v1/secrets/keys/rewrap', { retireOld: opts.retireOld === true }));
    });
}
