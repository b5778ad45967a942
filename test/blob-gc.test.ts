// Blob garbage collection end to end (POST /api/v1/admin/blobs/gc and `strata admin blobs gc`), on
// every database kind: blobs named only by a run artifact, a logged-model artifact, a model-version
// file or a job output all stay; the blob of a deleted artifact goes once it is past the grace
// period (time comes from the platform's ManualClock, never from sleeping), and only when not a
// dry run; the rest still download byte for byte; every applied run is audited as one blobs.gc
// event; only platform administrators may run it; store directories of projects the database does
// not know are left alone.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openFilesystemBlobStore, digestOf, type FilesystemBlobStore } from '../src/blobs/index.ts';
import { seededBytes } from '../src/blobs/contract.ts';
import { ManualClock } from '../src/kernel/index.ts';
import { projectBlobReferences } from '../src/api/blob-gc.ts';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { Reply, TestPlatform } from './support/platform.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

const HOUR = 3600_000;
const GC = '/api/v1/admin/blobs/gc';
const BIN = join(import.meta.dirname, '..', 'bin', 'strata.js');

/** Runs the CLI without blocking this process's event loop (the server under test is in it). */
function strata(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

for (const kind of databaseKinds) {
  describe(`blob garbage collection on ${kind}`, () => {
    const clock = new ManualClock();
    let tp: TestPlatform;
    let sa: string; // editor on project default
    let projectId: string;
    let store: FilesystemBlobStore;

    const ok = (r: Reply, status = 200): Json => {
      assert.equal(r.status, status, r.text);
      return r.body as Json;
    };
    const mlflow = async (path: string, body: unknown): Promise<Json> => ok(await tp.call('POST', `/api/2.0/mlflow/${path}`, { token: sa, body }));
    /** Raw bytes in and out (tp.call speaks JSON and text). */
    const bytes = async (method: 'PUT' | 'GET', url: string, body?: Buffer): Promise<{ status: number; body: Buffer; text: string }> => {
      const r = await tp.platform.app.fastify.inject({
        method,
        url,
        headers: { authorization: `Bearer ${sa}`, ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }) },
        ...(body === undefined ? {} : { payload: body }),
      });
      return { status: r.statusCode, body: r.rawPayload, text: r.body };
    };
    let experiments = 0;
    const newRun = async (): Promise<{ exp: string; run: string }> => {
      experiments += 1;
      const exp = (await mlflow('experiments/create', { name: `gc-${experiments}` }))['experiment_id'] as string;
      const run = (await mlflow('runs/create', { experiment_id: exp, start_time: clock.now() }))['run']['info']['run_id'] as string;
      return { exp, run };
    };
    const runFile = (run: string, path: string): string => `/api/v1/projects/default/runs/${run}/artifacts/${path}`;
    const upload = async (run: string, path: string, data: Buffer): Promise<string> => {
      const r = await bytes('PUT', runFile(run, path), data);
      assert.equal(r.status, 201, r.text);
      return (JSON.parse(r.text) as { digest: string }).digest;
    };
    const gc = async (body: unknown, token?: string): Promise<Reply> => tp.call('POST', GC, { body, ...(token === undefined ? {} : { token }) });
    const gcEvents = async (): Promise<Json[]> => (ok(await tp.call('GET', '/api/v1/audit/events?action=blobs.gc'))['events'] as Json[]);
    const stored = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const b of store.list()) out.push(b.digest);
      return out.sort();
    };
    const projectReport = (r: Json): Json => {
      const p = (r['projects'] as Json[]).find((x) => x['project'] === 'default');
      assert.ok(p !== undefined, JSON.stringify(r));
      return p;
    };

    before(async () => {
      tp = await startTestPlatform(kind, { clock });
      ok(await tp.call('POST', '/api/v1/service-accounts', { body: { name: 'sa-gc' } }), 201);
      ok(await tp.call('PUT', '/api/v1/projects/default/members/sa-gc', { body: { role: 'editor' } }));
      sa = ok(await tp.call('POST', '/api/v1/tokens', { body: { name: 'sa-gc-t', principal: 'sa-gc' } }), 201)['token'] as string;
      projectId = ok(await tp.call('GET', '/api/v1/projects/default'))['id'] as string;
      store = await openFilesystemBlobStore({ root: join(tp.platform.paths.blobs, 'projects', projectId), clock });
    });
    after(async () => {
      await tp.close();
    });

    test('only the deleted artifact\'s blob goes, after its grace period and not in a dry run; every kind of reference keeps its blob; audited', async () => {
      const { exp, run } = await newRun();
      const keep = seededBytes(300_000, 1);
      const drop = seededBytes(120_000, 2);
      const weights = seededBytes(50_000, 3);
      const lm = seededBytes(40_000, 4);
      const job = seededBytes(30_000, 5);
      const keepD = await upload(run, 'data/keep.bin', keep);
      const dropD = await upload(run, 'data/drop.bin', drop);

      // A model version pins weights.bin; then the run's copy of it is deleted: only model_version_files names it.
      const weightsD = await upload(run, 'model/weights.bin', weights);
      ok(await tp.call('POST', '/api/v1/projects/default/models', { token: sa, body: { name: 'gc-model' } }), 201);
      ok(await tp.call('POST', '/api/v1/projects/default/models/gc-model/versions', { token: sa, body: { source: `runs:/${run}/model` } }), 201);
      // A logged model's artifact (MLflow 3.x), uploaded through the artifact proxy: only logged_model_artifacts names it.
      const modelId = (await mlflow('logged-models', { experiment_id: exp, source_run_id: run }))['model']['info']['model_id'] as string;
      const lmPut = await bytes('PUT', `/api/2.0/mlflow-artifacts/artifacts/${exp}/models/${modelId}/artifacts/lm.bin`, lm);
      assert.equal(lmPut.status, 200, lmPut.text);
      // A job output: the row an agent's commit writes (job_artifacts), naming a blob of the project's store.
      const jobD = await upload(run, 'tmp/job.bin', job);
      await tp.platform.store.db
        .insertInto('job_artifacts')
        .values({ attempt_id: 'att_gc', kind: 'output', path: 'out/job.bin', job_id: 'job_gc', project_id: projectId, attempt: 1, digest: jobD, size: job.length, created_at: new Date(clock.now()).toISOString() })
        .execute();
      for (const path of ['model/weights.bin', 'tmp/job.bin', 'data/drop.bin']) ok(await tp.call('DELETE', runFile(run, path), { token: sa }));

      const all = [keepD, dropD, weightsD, digestOf(lm), jobD].sort();
      assert.deepEqual(await stored(), all);
      const referencedBytes = keep.length + weights.length + lm.length + job.length;

      // The database side on its own: each table's reference is seen by the mark and by the re-check.
      const refs = projectBlobReferences(tp.platform.store.db, projectId);
      const marked: string[] = [];
      for await (const d of refs.referencedDigests()) marked.push(d);
      assert.deepEqual(marked, [keepD, weightsD, digestOf(lm), jobD].sort());
      for (const d of [keepD, weightsD, digestOf(lm), jobD]) assert.equal(await refs.isReferenced(d as never), true, d);
      assert.equal(await refs.isReferenced(dropD as never), false);
      const elsewhere = projectBlobReferences(tp.platform.store.db, 'prj_elsewhere');
      for (const d of all) assert.equal(await elsewhere.isReferenced(d as never), false, 'references never cross projects');

      // The default: a dry run with a 24 h grace period. Everything is younger than that.
      const first = ok(await gc({}));
      assert.equal(first['dryRun'], true);
      assert.equal(first['graceSeconds'], 86400);
      assert.equal(first['complete'], true);
      assert.deepEqual(projectReport(first)['scanned'], { blobs: 5, bytes: referencedBytes + drop.length });
      assert.deepEqual(projectReport(first)['referenced'], { blobs: 4, bytes: referencedBytes });
      assert.deepEqual(projectReport(first)['young'], { blobs: 1, bytes: drop.length });
      assert.deepEqual(projectReport(first)['reclaimable'], { blobs: 0, bytes: 0 });

      // A dry run with no grace: the dropped blob is reclaimable, and still there.
      const dry = ok(await gc({ graceSeconds: 0 }));
      assert.deepEqual(dry['totals']['reclaimable'], { blobs: 1, bytes: drop.length });
      assert.deepEqual(dry['totals']['deleted'], { blobs: 0, bytes: 0 });
      assert.equal(dry['totals']['bytesFreed'], 0);
      assert.deepEqual(await stored(), all);
      assert.deepEqual(await gcEvents(), [], 'dry runs are not audited');

      // Applied, default grace: the blob is still too young.
      const young = ok(await gc({ dryRun: false }));
      assert.deepEqual(young['totals']['young'], { blobs: 1, bytes: drop.length });
      assert.deepEqual(young['totals']['deleted'], { blobs: 0, bytes: 0 });
      assert.deepEqual(await stored(), all);

      // Applied with grace 0 (the platform clock has not moved: age 0 is old enough): exactly that blob goes.
      const applied = ok(await gc({ dryRun: false, graceSeconds: 0 }));
      assert.equal(applied['dryRun'], false);
      assert.equal(applied['cutoff'], new Date(clock.now()).toISOString());
      assert.deepEqual(applied['totals']['deleted'], { blobs: 1, bytes: drop.length });
      assert.equal(applied['totals']['bytesFreed'], drop.length);
      assert.deepEqual(applied['totals']['failed'], { blobs: 0, bytes: 0 });
      assert.deepEqual(await stored(), all.filter((d) => d !== dropD));
      assert.equal((await bytes('GET', runFile(run, 'data/drop.bin'))).status, 404);
      const kept = await bytes('GET', runFile(run, 'data/keep.bin'));
      assert.equal(kept.status, 200);
      assert.ok(kept.body.equals(keep), 'the other artifact downloads byte for byte');
      assert.ok((await bytes('GET', '/api/v1/projects/default/models/gc-model/versions/1/files/weights.bin')).body.equals(weights));
      assert.ok((await bytes('GET', `/api/2.0/mlflow-artifacts/artifacts/${exp}/models/${modelId}/artifacts/lm.bin`)).body.equals(lm));
      assert.equal(await store.has(jobD as never), true);

      // One audit event per applied run, with the counts.
      const events = await gcEvents();
      assert.equal(events.length, 2);
      const last = events.at(-1) as Json;
      assert.equal(last['action'], 'blobs.gc');
      assert.equal(last['outcome'], 'success');
      assert.equal(last['actor'], ok(await tp.call('GET', '/api/v1/whoami'))['id']);
      assert.equal(last['details']['graceSeconds'], 0);
      assert.deepEqual(last['details']['deleted'], { blobs: 1, bytes: drop.length });
      assert.equal(last['details']['bytesFreed'], drop.length);
      assert.deepEqual(last['details']['scanned'], { blobs: 5, bytes: referencedBytes + drop.length });

      // Deleting the model version unpins weights.bin; a day later the default grace lets it go.
      ok(await tp.call('DELETE', '/api/v1/projects/default/models/gc-model/versions/1', { token: sa }), 204);
      assert.deepEqual(ok(await gc({ dryRun: false }))['totals']['reclaimable'], { blobs: 0, bytes: 0 }, 'weights.bin is 0 h old');
      clock.advance(25 * HOUR);
      const later = ok(await gc({ dryRun: false, project: 'default' }));
      assert.deepEqual(later['totals']['deleted'], { blobs: 1, bytes: weights.length });
      assert.deepEqual(await stored(), [keepD, digestOf(lm), jobD].sort());
      assert.equal((await gcEvents()).at(-1)?.['project'], projectId, 'a run over one project is audited against it');
    });

    test('the mark pages through thousands of references in digest order, once each', async () => {
      const project = 'prj_many_refs';
      const digests = Array.from({ length: 2600 }, (_, i) => digestOf(`blob ${i}`));
      const rows = digests.flatMap((digest, i) => {
        const row = { attempt_id: `att_${i % 7}`, kind: 'output', job_id: `job_${i % 7}`, project_id: project, attempt: 1, digest, size: 1, created_at: '2026-01-01T00:00:00.000Z' };
        // Every tenth digest is named twice (two paths, one blob).
        return i % 10 === 0 ? [{ ...row, path: `a/${i}` }, { ...row, path: `b/${i}` }] : [{ ...row, path: `a/${i}` }];
      });
      for (let i = 0; i < rows.length; i += 500) await tp.platform.store.db.insertInto('job_artifacts').values(rows.slice(i, i + 500)).execute();
      const marked: string[] = [];
      for await (const d of projectBlobReferences(tp.platform.store.db, project).referencedDigests()) marked.push(d);
      assert.deepEqual(marked, [...digests].sort());
    });

    test('a re-upload of old content refreshes its blob, so the grace period protects it until its row commits', async () => {
      const { run } = await newRun();
      const data = seededBytes(10_000, 6);
      const d = await upload(run, 'a.bin', data);
      ok(await tp.call('DELETE', runFile(run, 'a.bin'), { token: sa }));
      clock.advance(48 * HOUR);
      // The same bytes uploaded again (deduplicated onto the old blob) an hour before the collection.
      const again = await bytes('PUT', runFile(run, 'b.bin'), data);
      assert.equal(JSON.parse(again.text).deduplicated, true);
      ok(await tp.call('DELETE', runFile(run, 'b.bin'), { token: sa })); // as if its row were not committed yet
      clock.advance(HOUR);
      const r = ok(await gc({ dryRun: false, graceSeconds: 2 * 3600 }));
      assert.equal(await store.has(d as never), true, JSON.stringify(r['totals']));
      clock.advance(2 * HOUR);
      ok(await gc({ dryRun: false, graceSeconds: 2 * 3600 }));
      assert.equal(await store.has(d as never), false, 'once past the grace period an unreferenced blob goes');
    });

    test('platform administrators only; bad input is a 400, an unknown project a 404', async () => {
      const bob = await tp.user(`bob-${kind}`);
      ok(await tp.call('PUT', `/api/v1/projects/default/members/bob-${kind}`, { body: { role: 'admin' } }));
      const before = (await gcEvents()).length;
      for (const token of [bob, sa]) {
        const r = await gc({ dryRun: false, graceSeconds: 0 }, token);
        assert.equal(r.status, 403, r.text);
        assert.match((r.body as Json)['error']['message'], /platform administrator/);
      }
      assert.equal((await tp.call('POST', GC, { token: null, body: {} })).status, 401);
      for (const body of [{ graceSeconds: -1 }, { graceSeconds: 1.5 }, { dryRun: 'no' }, { project: '../x' }, { other: 1 }]) {
        assert.equal((await gc(body)).status, 400, JSON.stringify(body));
      }
      assert.equal((await gc({ project: 'no-such-project', dryRun: false })).status, 404);
      const refused = (await gcEvents()).slice(before);
      assert.deepEqual(refused.map((e) => e['outcome']), ['denied', 'denied'], 'the gate audits the two denials; the 400s and the 404 leave no event');
    });

    test('a store directory of no project in this database is reported and left alone', async () => {
      const stranger = await openFilesystemBlobStore({ root: join(tp.platform.paths.blobs, 'projects', 'prj_not_in_this_database'), clock });
      const { digest } = await stranger.put(Readable.from([Buffer.from('someone else\'s bytes')]));
      clock.advance(48 * HOUR);
      const r = ok(await gc({ dryRun: false, graceSeconds: 0 }));
      assert.deepEqual(r['unknownStores'], ['prj_not_in_this_database']);
      assert.ok(!(r['projects'] as Json[]).some((p) => p['projectId'] === 'prj_not_in_this_database'));
      assert.equal(await stranger.has(digest), true);
    });

    test('the CLI: a dry run by default, --apply deletes, --json for scripts', async () => {
      const { run } = await newRun();
      const data = seededBytes(2048, 7);
      const d = await upload(run, 'cli.bin', data);
      ok(await tp.call('DELETE', runFile(run, 'cli.bin'), { token: sa }));
      const server = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      {
        const env = { ...process.env, STRATA_SERVER: server, STRATA_TOKEN: tp.adminToken, STRATA_CONFIG: join(tp.platform.paths.home, 'cli-config.json') };
        const dry = await strata(env, 'admin', 'blobs', 'gc', '--grace', '0s', '--json');
        assert.equal(dry.code, 0, dry.err);
        const reply = JSON.parse(dry.out) as Json;
        assert.equal(reply['dryRun'], true);
        assert.deepEqual(reply['totals']['reclaimable'], { blobs: 1, bytes: data.length });
        assert.equal(await store.has(d as never), true);

        const human = await strata(env, 'admin', 'blobs', 'gc', '--grace', '0s', '--project', 'default');
        assert.equal(human.code, 0, human.err);
        assert.match(human.out, /WOULD DELETE/);
        assert.match(human.out, /dry run: would delete 1 blob \(2\.0 KiB\); nothing was deleted\. Run again with --apply/);

        const applied = await strata(env, 'admin', 'blobs', 'gc', '--apply', '--grace', '0s', '--project', 'default');
        assert.equal(applied.code, 0, applied.err);
        assert.match(applied.out, /deleted 1 blob, freed 2\.0 KiB/);
        assert.equal(await store.has(d as never), false);

        const bad = await strata(env, 'admin', 'blobs', 'gc', '--grace', 'soon');
        assert.equal(bad.code, 1);
        assert.match(bad.err, /invalid duration 'soon'/);
      }
    });
  });
}
