// `strata models` and `strata lineage`: list and describe registered models, and verify a version
// independently of the server — fetch its provenance record with an inclusion proof, download every
// pinned file and re-hash it locally, and check the proof against a signed checkpoint with the
// audit log's public key, pinned the way `strata audit verify` pins it (given, pinned, the local
// server's file, or trusted on first use and then pinned). Exit 0 only when everything verifies.
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadPublicKey } from '../access/audit/index.ts';
import type { ProvenanceBundle, ProvenanceVerdict } from '../registry/index.ts';
import { verifyProvenance } from '../registry/index.ts';
import type { StrataClient } from '../sdk/index.ts';
import { seg } from '../sdk/index.ts';
import { isLocalServer, strataHome, trustDir } from './config.ts';
import { commandContext } from './context.ts';

type Row = Record<string, unknown>;

/** Where one version lives in the API. */
const versionPath = (project: string, name: string, version: string): string => `/api/v1/projects/${seg(project)}/models/${seg(name)}/versions/${seg(version)}`;

/**
 * Fetches a version's provenance bundle, downloads and re-hashes each pinned file through the API,
 * and verifies everything under `publicKey`. The bundle's own public key is not used here.
 */
export async function verifyModelVersion(client: StrataClient, project: string, name: string, version: string, publicKey: KeyObject): Promise<{ verdict: ProvenanceVerdict; bundle: ProvenanceBundle }> {
  const base = versionPath(project, name, version);
  const bundle = await client.get<ProvenanceBundle>(`${base}/provenance`);
  const rehashed = new Map<string, { digest: string; size: number }>();
  for (const f of bundle.files) {
    const rel = f.path.split('/').map(seg).join('/');
    const { body } = await client.download(`${base}/files/${rel}`);
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of body) {
      h.update(chunk);
      size += chunk.byteLength;
    }
    rehashed.set(f.path, { digest: `sha256:${h.digest('hex')}`, size });
  }
  return { verdict: verifyProvenance(bundle, publicKey, rehashed), bundle };
}

/** The public key to trust: given, pinned for this server, the local server's file, or the server's (first use). */
async function trustedKey(server: string, given: string | undefined, fromServer: () => Promise<string>): Promise<{ key: KeyObject; pem?: string; note?: string }> {
  if (given !== undefined) return { key: await loadPublicKey(given) };
  const pinned = join(trustDir(server), 'audit-signing.pub');
  if (existsSync(pinned)) return { key: await loadPublicKey(pinned) };
  const local = join(strataHome(), 'audit-signing.pub');
  if (isLocalServer(server) && existsSync(local)) return { key: await loadPublicKey(local) };
  const pem = await fromServer();
  return { key: await loadPublicKey(pem), pem, note: `trusting the server's public key on first use; it is pinned in ${trustDir(server)}` };
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('the model registry: models, versions, provenance');

  models
    .command('list')
    .option('-p, --project <project>', 'project', 'default')
    .option('--filter <filter>', "MLflow filter, e.g. \"name LIKE 'fraud%'\"")
    .option('--limit <n>', 'how many', '100')
    .description('registered models with their aliases and latest versions')
    .action(async (opts: { project: string; filter?: string; limit: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ models: Row[] }>(`/api/v1/projects/${seg(opts.project)}/models`, { filter: opts.filter, maxResults: opts.limit });
      out.table(
        r,
        r.models.map((m) => ({ ...m, latest: ((m['latestVersions'] as Row[] | undefined) ?? []).map((v) => `v${String(v['version'])}:${String(v['stage'])}`).join(' '), aliases: Object.entries((m['aliases'] as Record<string, number> | undefined) ?? {}).map(([a, v]) => `${a}→v${v}`).join(' ') })),
        ['name', 'latest', 'aliases', 'description'],
      );
    });

  models
    .command('describe')
    .argument('<name>')
    .argument('[version]', 'a version number (default: the model and its versions)')
    .option('-p, --project <project>', 'project', 'default')
    .description('a model and its versions, or one version with its files and upstream lineage')
    .action(async (name: string, version: string | undefined, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const p = seg(opts.project);
      if (version === undefined) {
        const m = await client.get<Row>(`/api/v1/projects/${p}/models/${seg(name)}`);
        const vs = await client.get<{ versions: Row[] }>(`/api/v1/projects/${p}/models/${seg(name)}/versions`);
        if (out.json) return out.record({ ...m, versions: vs.versions });
        out.record(m, ['name', 'description', 'aliases', 'tags', 'creationTime', 'lastUpdatedTime']);
        out.line('');
        out.table(vs, vs.versions, ['version', 'stage', 'aliases', 'runId', 'manifestDigest', 'files', 'size']);
        return;
      }
      const base = versionPath(opts.project, name, version);
      const v = await client.get<Row>(base);
      const files = await client.get<{ files: Row[] }>(`${base}/files`);
      const lineage = await client.get<Row>(`/api/v1/projects/${p}/lineage/model-versions/${seg(name)}/${seg(version)}`);
      if (out.json) return out.record({ ...v, files: files.files, lineage });
      out.record(v, ['name', 'version', 'status', 'stage', 'aliases', 'source', 'runId', 'manifestDigest', 'files', 'size', 'description']);
      out.line('');
      out.table(files, files.files, ['path', 'size', 'digest']);
      const run = lineage['run'] as { id: string; name: string; codeRevision: string | null } | null;
      out.line('');
      out.line(run === null ? 'run: -' : `run: ${run.id} (${run.name}), code revision ${run.codeRevision ?? '-'}`);
      for (const d of (lineage['datasets'] as { name: string; digest: string; context: string | null }[] | undefined) ?? []) out.line(`  dataset ${d.name} @ ${d.digest}${d.context === null ? '' : ` (${d.context})`}`);
    });

  models
    .command('verify')
    .argument('<name>')
    .argument('<version>')
    .option('-p, --project <project>', 'project', 'default')
    .option('--public-key <file>', "the audit log's Ed25519 public key, PEM (default: the pinned one)")
    .option('--no-save', 'do not pin the public key')
    .description("re-hash a version's stored files and check its provenance record's inclusion proof against a signed checkpoint; exit 0 only if all verify")
    .action(async (name: string, version: string, opts: { project: string; publicKey?: string; save: boolean }, cmd: Command) => {
      const { client, out, server } = commandContext(cmd);
      let serverPem: string | undefined;
      const fromServer = async (): Promise<string> => {
        serverPem ??= (await client.get<ProvenanceBundle>(`${versionPath(opts.project, name, version)}/provenance`)).publicKey;
        return serverPem;
      };
      const trust = await trustedKey(server, opts.publicKey, fromServer);
      const { verdict, bundle } = await verifyModelVersion(client, opts.project, name, version, trust.key);
      if (trust.note !== undefined) process.stderr.write(`note: ${trust.note}\n`);
      if (!verdict.ok) {
        if (out.json) out.record(verdict);
        process.stderr.write(`strata: model ${name} version ${version} verification FAILED (${verdict.failed}): ${verdict.reason}\n`);
        process.exitCode = 1;
        return;
      }
      if (opts.save && trust.pem !== undefined) {
        const dir = trustDir(server);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const pub = join(dir, 'audit-signing.pub');
        if (!existsSync(pub)) writeFileSync(pub, trust.pem);
      }
      if (out.json) return out.record({ ...verdict, record: bundle.record });
      out.line(`model ${name} version ${version} verified: ${verdict.files} files re-hashed match manifest ${verdict.manifestDigest}`);
      out.line(`  provenance record is audit entry ${verdict.seq}, included in the signed checkpoint of ${verdict.checkpointSize} entries (root ${verdict.root})`);
      const r = bundle.record;
      out.line(`  run ${r.run?.id ?? '-'}, code revision ${r.codeRevision ?? '-'}, ${r.datasets.length} dataset(s), ${r.metrics.length} metric(s)`);
    });

  const lineage = program.command('lineage').description('lineage: dataset → run → model version, both ways');
  lineage
    .command('model')
    .argument('<name>')
    .argument('<version>')
    .option('-p, --project <project>', 'project', 'default')
    .description('upstream of a model version: its run, code revision and datasets')
    .action(async (name: string, version: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.get<Row>(`/api/v1/projects/${seg(opts.project)}/lineage/model-versions/${seg(name)}/${seg(version)}`));
    });
  lineage
    .command('run')
    .argument('<run>')
    .option('-p, --project <project>', 'project', 'default')
    .description("a run's datasets (upstream) and the model versions registered from it (downstream)")
    .action(async (run: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.get<Row>(`/api/v1/projects/${seg(opts.project)}/lineage/runs/${seg(run)}`));
    });
  lineage
    .command('dataset')
    .argument('<digest>')
    .option('-p, --project <project>', 'project', 'default')
    .description('downstream of a dataset digest: the runs that used it and the model versions they produced')
    .action(async (digest: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.get<Row>(`/api/v1/projects/${seg(opts.project)}/lineage/datasets/${seg(digest)}`));
    });
}
