// The typed SDK against a real listening server with its local agent (jobs really run), on every
// database kind: jobs (submit from an object and from YAML, wait, logs, artifacts, cancel), tracking
// (experiments, runs, batches, search, metric history, artifacts streamed both ways), the registry
// (versions pinned to run artifacts, aliases, cards, gates, verification, lineage both ways), and
// server errors as StrataApiError. Every answer is checked to have exactly the fields the SDK's
// wire types declare, so a drift between server and SDK fails here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { startLocalAgent } from '../src/api/local-agent.ts';
import { JobWaitTimeoutError, JobsClient, RegistryClient, StrataApiError, StrataClient, TrackingClient, metricNumber, parseSpecText } from '../src/sdk/index.ts';
import type {
  AliasSet,
  ArtifactEntry,
  ArtifactListing,
  AttemptInfo,
  AuditEntry,
  DatasetLineage,
  Experiment,
  GateDecision,
  GateCheckResult,
  JobArtifact,
  JobDetail,
  JobEvent,
  JobInfo,
  JobSpec,
  LineageDataset,
  LineageRun,
  LineageVersion,
  LogChunk,
  LogPage,
  ManifestFile,
  Metric,
  ModelCard,
  ModelVersion,
  PromotionGate,
  ProvenanceBundle,
  ProvenanceRecord,
  RegisteredModel,
  Run,
  RunInfo,
  RunInput,
  RunLineage,
  SignedCheckpoint,
  UploadedArtifact,
  VersionFiles,
  VersionLineage,
} from '../src/sdk/index.ts';

/** Every key of T, checked at compile time: a key the type has and the list lacks does not compile. */
const fields =
  <T>() =>
  <const K extends readonly (keyof T & string)[]>(keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : never)): K =>
    keys;

/** The object has every non-optional field of the list and no field outside it. */
function assertShape(what: string, value: unknown, all: readonly string[], optional: readonly string[] = []): void {
  assert.ok(typeof value === 'object' && value !== null, `${what}: expected an object, got ${JSON.stringify(value)}`);
  const got = Object.keys(value);
  const extra = got.filter((k) => !all.includes(k));
  const missing = all.filter((k) => !optional.includes(k) && !got.includes(k));
  assert.deepEqual({ what, extra, missing }, { what, extra: [], missing: [] });
}

const JOB_INFO = fields<JobInfo>()(['id', 'project', 'name', 'state', 'reason', 'attempts', 'maxAttempts', 'nodeId', 'exitCode', 'cancelRequested', 'createdAt', 'createdBy', 'updatedAt', 'finishedAt', 'spec', 'placement']);
const JOB_DETAIL = fields<JobDetail>()([...JOB_INFO, 'attemptList', 'events']);
const JOB_SPEC = fields<JobSpec>()([
  'name', 'kind', 'payload', 'command', 'args', 'shell', 'workingDir', 'files', 'env', 'resources', 'replicas', 'topology', 'priorityClass', 'preemptible', 'maxAttempts', 'backoff',
  'maxRuntimeSeconds', 'deadline', 'maxStartDelaySeconds', 'regions', 'dataResidency', 'checkpointDir', 'secrets', 'outputs', 'labels',
]);
const JOB_SPEC_OPTIONAL = ['payload', 'topology', 'maxRuntimeSeconds', 'deadline', 'maxStartDelaySeconds', 'checkpointDir'];
const ATTEMPT = fields<AttemptInfo>()(['id', 'number', 'replica', 'nodeId', 'node', 'state', 'startedAt', 'endedAt', 'leaseExpiresAt', 'exitCode', 'reason', 'usage']);
const JOB_EVENT = fields<JobEvent>()(['seq', 'time', 'from', 'to', 'reason']);
const LOG_CHUNK = fields<LogChunk>()(['seq', 'attempt', 'replica', 'time', 'stream', 'data']);
const LOG_PAGE = fields<LogPage>()(['chunks', 'next', 'done']);
const JOB_ARTIFACT = fields<JobArtifact>()(['path', 'digest', 'size', 'attempt', 'kind', 'createdAt']);
const EXPERIMENT = fields<Experiment>()(['id', 'name', 'lifecycleStage', 'artifactLocation', 'default', 'creationTime', 'lastUpdateTime', 'tags']);
const RUN_INFO = fields<RunInfo>()(['id', 'experimentId', 'name', 'status', 'lifecycleStage', 'userId', 'startTime', 'endTime', 'artifactUri']);
const RUN = fields<Run>()([...RUN_INFO, 'parentRunId', 'metrics', 'params', 'tags', 'inputs']);
const RUN_INPUT = fields<RunInput>()(['name', 'digest', 'sourceType', 'source', 'schema', 'profile', 'tags']);
const METRIC = fields<Metric>()(['key', 'value', 'step', 'timestamp']);
const LISTING = fields<ArtifactListing>()(['root', 'path', 'files', 'nextPageToken']);
const FILE_ENTRY = fields<Extract<ArtifactEntry, { kind: 'file' }>>()(['path', 'kind', 'size', 'digest']);
const DIR_ENTRY = fields<Extract<ArtifactEntry, { kind: 'directory' }>>()(['path', 'kind']);
const UPLOADED = fields<UploadedArtifact>()(['path', 'digest', 'size', 'deduplicated']);
const MODEL = fields<RegisteredModel>()(['name', 'description', 'creationTime', 'lastUpdatedTime', 'tags', 'aliases', 'latestVersions']);
const VERSION = fields<ModelVersion>()(['name', 'version', 'status', 'stage', 'description', 'source', 'runId', 'runLink', 'manifestDigest', 'files', 'size', 'signature', 'aliases', 'tags', 'userId', 'creationTime', 'lastUpdatedTime']);
const VERSION_FILES = fields<VersionFiles>()(['manifestDigest', 'files']);
const MANIFEST_FILE = fields<ManifestFile>()(['path', 'digest', 'size']);
const ALIAS_SET = fields<AliasSet>()(['alias', 'version', 'gate']);
const CARD = fields<ModelCard>()(['intendedUse', 'data', 'metrics', 'limitations', 'fairness', 'updatedTime', 'updatedBy']);
const GATE = fields<PromotionGate>()(['alias', 'requireModelCard', 'metrics', 'updatedTime', 'updatedBy']);
const GATE_DECISION = fields<GateDecision>()(['alias', 'allowed', 'checks']);
const GATE_CHECK = fields<GateCheckResult>()(['alias', 'allowed', 'checks', 'gated']);
const BUNDLE = fields<ProvenanceBundle>()(['name', 'version', 'record', 'seq', 'entry', 'checkpoint', 'proof', 'files', 'publicKey']);
const RECORD = fields<ProvenanceRecord>()(['v', 'type', 'project', 'model', 'source', 'manifestDigest', 'files', 'size', 'run', 'codeRevision', 'codeSource', 'datasets', 'metrics', 'createdAt', 'createdBy']);
const AUDIT_ENTRY = fields<AuditEntry>()(['v', 'seq', 'time', 'actor', 'action', 'resource', 'project', 'outcome', 'requestId', 'beforeHash', 'afterHash', 'details', 'leafHash']);
const CHECKPOINT = fields<SignedCheckpoint>()(['logId', 'size', 'root', 'time', 'signature', 'keyId']);
const VERSION_LINEAGE = fields<VersionLineage>()(['modelVersion', 'run', 'datasets']);
const RUN_LINEAGE = fields<RunLineage>()(['run', 'datasets', 'modelVersions']);
const DATASET_LINEAGE = fields<DatasetLineage>()(['datasets', 'runs', 'modelVersions']);
const LINEAGE_RUN = fields<LineageRun>()(['id', 'name', 'experimentId', 'status', 'codeRevision', 'parentRunId']);
const LINEAGE_DATASET = fields<LineageDataset>()(['name', 'digest', 'sourceType', 'source', 'context']);
const LINEAGE_VERSION = fields<LineageVersion>()(['name', 'version', 'runId', 'manifestDigest', 'aliases', 'stage']);

const text = async (body: ReadableStream<Uint8Array>): Promise<string> => new Response(body).text();
const bytesOf = async (body: ReadableStream<Uint8Array>): Promise<Buffer> => Buffer.from(await new Response(body).arrayBuffer());
const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Rejects with a StrataApiError of this status whose message matches. */
async function rejectsWith(p: Promise<unknown>, status: number, message: RegExp): Promise<StrataApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StrataApiError, `expected a StrataApiError, got ${String(e)}`);
    assert.equal(e.status, status, e.message);
    assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected a ${status} error`);
}

for (const kind of databaseKinds) {
  describe(`the typed SDK on ${kind}`, () => {
    let tp: TestPlatform;
    let strata: StrataClient;
    let jobs: JobsClient;
    let tracking: TrackingClient;
    let registry: RegistryClient;

    before(async () => {
      tp = await startTestPlatform(kind, { leaseSeconds: 2 });
      const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      await startLocalAgent(tp.platform, url);
      strata = new StrataClient({ server: url, token: tp.adminToken });
      jobs = new JobsClient(strata, 'default');
      tracking = new TrackingClient(strata, 'default');
      registry = new RegistryClient(strata, 'default');
    });
    after(async () => {
      await tp.close();
    });

    test('jobs: a YAML spec runs; logs followed while it runs; outputs listed and downloaded byte for byte', async () => {
      const yaml = [
        'name: sdk-hello',
        'command: [sh, -c, "echo hi; sh ./gen.sh; echo done >&2"]',
        'files:',
        '  - path: gen.sh',
        '    fromFile: gen.sh',
        'outputs: [out]',
        'labels: {suite: sdk}',
        'resources: {cpu: 100m, memory: 64Mi}',
      ].join('\n');
      const script = 'mkdir -p out/sub; printf "%s" "strata-output" > out/result.txt; seq 1 20000 > out/sub/numbers.txt\n';
      const job = await jobs.submit(yaml, { readFile: (p) => (p === 'gen.sh' ? script : assert.fail(`unexpected file ${p}`)) });
      assertShape('JobInfo', job, JOB_INFO, ['placement']);
      assertShape('JobSpec', job.spec, JOB_SPEC, JOB_SPEC_OPTIONAL);
      assert.equal(job.project, 'default');
      assert.deepEqual(job.spec.labels, { suite: 'sdk' });
      assert.equal(job.spec.resources.cpuMillis, 100);
      assert.deepEqual(job.spec.files, [{ path: 'gen.sh', content: script, executable: false }]);

      // Follow the logs from submission to the end: the iterator returns when the job is over.
      const followed: LogChunk[] = [];
      for await (const c of jobs.logs(job.id, { follow: true })) followed.push(c);
      const done = await jobs.wait(job.id, { timeoutMs: 15_000 });
      assert.equal(done.state, 'succeeded', done.reason);
      assert.equal(done.exitCode, 0);
      assertShape('JobDetail', done, JOB_DETAIL, ['placement']);
      const stdout = followed.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
      const stderr = followed.filter((c) => c.stream === 'stderr').map((c) => c.data).join('');
      assert.equal(stdout, 'hi\n');
      assert.equal(stderr, 'done\n');
      for (const c of followed) assertShape('LogChunk', c, LOG_CHUNK);
      // Not following: the same chunks again, from the start; and from the middle.
      const again: LogChunk[] = [];
      for await (const c of jobs.logs(job.id)) again.push(c);
      assert.deepEqual(again, followed);
      const tail: LogChunk[] = [];
      for await (const c of jobs.logs(job.id, { after: followed[0]?.seq ?? 0 })) tail.push(c);
      assert.deepEqual(tail, followed.slice(1));
      const page = await jobs.logPage(job.id, { limit: 1 });
      assertShape('LogPage', page, LOG_PAGE);
      assert.equal(page.chunks.length, 1);
      assert.equal(page.done, followed.length === 1);

      const attempts = await jobs.attempts(job.id);
      assert.equal(attempts.length, 1);
      assertShape('AttemptInfo', attempts[0], ATTEMPT);
      assert.equal(attempts[0]?.state, 'succeeded');
      const events = await jobs.events(job.id);
      for (const e of events) assertShape('JobEvent', e, JOB_EVENT);
      assert.deepEqual(events.map((e) => e.to), ['queued', 'admitted', 'placed', 'running', 'succeeded']);
      assert.ok((await jobs.list({ state: 'succeeded' })).some((j) => j.id === job.id));
      assert.ok(!(await jobs.list({ state: 'failed' })).some((j) => j.id === job.id));
      // Paging: pages of 2 walk the whole list, newest first, each job once; a foreign token is a 400.
      for (let i = 0; i < 4; i++) await jobs.submit({ name: `page-${i}`, command: ['true'], resources: { cpu: '10m', memory: '16Mi' } });
      const everything = await jobs.list({ limit: 1000 });
      const paged: string[] = [];
      for await (const j of jobs.listAll({ pageSize: 2 })) paged.push(j.id);
      assert.deepEqual(paged, everything.map((j) => j.id));
      assert.ok(paged.length >= 5);
      const first = await jobs.listPage({ limit: 2 });
      assert.equal(first.jobs.length, 2);
      assert.ok(first.nextPageToken !== undefined);
      await rejectsWith(jobs.listPage({ pageToken: 'bm9wZQ' }), 400, /pageToken/);

      const artifacts = await jobs.artifacts(job.id);
      for (const a of artifacts) assertShape('JobArtifact', a, JOB_ARTIFACT);
      const numbers = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
      assert.deepEqual(artifacts.map((a) => [a.kind, a.path, a.size, a.digest]), [
        ['output', 'out/result.txt', 13, sha256('strata-output')],
        ['output', 'out/sub/numbers.txt', Buffer.byteLength(numbers), sha256(numbers)],
      ]);
      const d = await jobs.downloadArtifact(job.id, 'out/sub/numbers.txt');
      assert.equal(d.status, 200);
      assert.equal(d.size, Buffer.byteLength(numbers));
      assert.equal(d.digest, sha256(numbers));
      assert.equal(d.response.headers.get('x-strata-attempt'), '1');
      assert.equal(await text(d.body), numbers);
      const part = await jobs.downloadArtifact(job.id, 'out/sub/numbers.txt', { range: { start: 2, end: 10 }, attempt: 1 });
      assert.equal(part.status, 206);
      assert.equal(await text(part.body), numbers.slice(2, 10));
      await rejectsWith(jobs.downloadArtifact(job.id, 'out/nope.txt'), 404, /nope\.txt|not found/i);
      await rejectsWith(jobs.downloadArtifact(job.id, 'out/result.txt', { kind: 'checkpoint' }), 404, /./);
    });

    test('jobs: wait gives up after its timeout; cancel stops a running job; JSON text is accepted too', async () => {
      const job = await jobs.submit('{"name": "sdk-sleeper", "command": ["sh", "-c", "echo started; sleep 30"], "resources": {"cpu": "100m", "memory": "32Mi"}}');
      let timedOut: unknown;
      try {
        await jobs.wait(job.id, { timeoutMs: 300, pollIntervalMs: 50 });
      } catch (e) {
        timedOut = e;
      }
      assert.ok(timedOut instanceof JobWaitTimeoutError, String(timedOut));
      assert.equal(timedOut.job.id, job.id);
      assert.ok(!['succeeded', 'failed', 'cancelled'].includes(timedOut.job.state));
      assert.match(timedOut.message, /still \w+ after 300 ms/);
      // Follow until it prints, then cancel it.
      for await (const c of jobs.logs(job.id, { follow: true })) if (c.data.includes('started')) break;
      const cancelling = await jobs.cancel(job.id);
      assertShape('JobInfo', cancelling, JOB_INFO, ['placement']);
      assert.equal(cancelling.cancelRequested, true);
      const end = await jobs.wait(job.id, { timeoutMs: 15_000, pollIntervalMs: 100 });
      assert.equal(end.state, 'cancelled');
      // An aborted wait rejects at once.
      const ac = new AbortController();
      ac.abort(new Error('stop waiting'));
      await assert.rejects(jobs.wait(job.id, { signal: ac.signal }), /stop waiting/);
    });

    test('jobs: spec text is refused before it is sent; the server refuses bad specs and unknown jobs as StrataApiError', async () => {
      const dup = await rejectsWith(jobs.submit('name: a\nname: b\ncommand: [true]\n'), 400, /^spec: duplicate key at line 2, column 1/);
      assert.equal(dup.code, 'bad_request');
      await rejectsWith(jobs.submit('name: a\ncommand: [true]\n---\nname: b\n'), 400, /more than one YAML document/);
      await rejectsWith(jobs.submit('{"name": "a", "name": "b", "command": ["true"]}'), 400, /duplicate key/);
      await rejectsWith(jobs.submit('- just\n- a list\n'), 400, /expected a mapping/);
      await rejectsWith(jobs.submit('{"name": "x"', { format: 'json' }), 400, /not valid JSON/);
      assert.deepEqual(parseSpecText('{name: flow, command: [echo, hi]}'), { name: 'flow', command: ['echo', 'hi'] });
      assert.deepEqual(parseSpecText('name: y\ncommand: [echo, yes]\n'), { name: 'y', command: ['echo', 'yes'] }, 'YAML 1.2 core: yes stays text');
      // The server's own 400: it names the bad field.
      const bad = await rejectsWith(jobs.submit({ name: 'x', comand: ['true'] } as unknown as { name: string }), 400, /comand/);
      assert.equal(bad.code, 'bad_request');
      const missing = await rejectsWith(jobs.get('job_doesnotexist0'), 404, /job 'job_doesnotexist0' was not found/);
      assert.equal(missing.code, 'not_found');
      await rejectsWith(jobs.get('not-a-job-id'), 400, /invalid params/);
      await rejectsWith(new JobsClient(strata, 'no-such-project').list(), 404, /no-such-project/);
      await rejectsWith(new JobsClient(new StrataClient({ server: strata.server, token: 'wrong' }), 'default').list(), 401, /./);
    });

    test('tracking: experiments, runs, batches; search with a filter returns exactly the expected runs; metric history', async () => {
      const exp = await tracking.createExperiment({ name: 'sdk-e1', tags: { team: 'vision' } });
      assertShape('Experiment', exp, EXPERIMENT);
      assert.deepEqual(exp.tags, { team: 'vision' });
      assert.deepEqual(await tracking.getExperiment(exp.id), exp);
      await rejectsWith(tracking.createExperiment({ name: 'sdk-e1' }), 409, /sdk-e1/);
      const other = await tracking.createExperiment({ name: 'sdk-e2' });
      const listed = await tracking.listExperiments({ filter: "name LIKE 'sdk-e%'", orderBy: ['name DESC', 'creation_time ASC'], maxResults: 10 });
      assert.deepEqual(listed.experiments.map((e) => e.name), ['sdk-e2', 'sdk-e1']);
      assert.equal(listed.nextPageToken, null);
      const firstPage = await tracking.listExperiments({ filter: "name LIKE 'sdk-e%'", orderBy: ['name ASC'], maxResults: 1 });
      assert.deepEqual(firstPage.experiments.map((e) => e.name), ['sdk-e1']);
      assert.ok(firstPage.nextPageToken !== null);
      const second = await tracking.listExperiments({ filter: "name LIKE 'sdk-e%'", orderBy: ['name ASC'], maxResults: 1, pageToken: firstPage.nextPageToken });
      assert.deepEqual(second.experiments.map((e) => e.name), ['sdk-e2']);
      const renamed = await tracking.updateExperiment(other.id, { name: 'sdk-e2-renamed' });
      assert.equal(renamed.name, 'sdk-e2-renamed');
      assert.deepEqual((await tracking.setExperimentTag(other.id, 'k', 'v')).tags, { k: 'v' });
      await tracking.deleteExperimentTag(other.id, 'k');
      assert.deepEqual((await tracking.getExperiment(other.id)).tags, {});
      await tracking.deleteExperiment(other.id);
      assert.equal((await tracking.getExperiment(other.id)).lifecycleStage, 'deleted');
      assert.equal((await tracking.restoreExperiment(other.id)).lifecycleStage, 'active');

      const accs = [0.3, 0.9, 0.7, 0.5];
      const runs: Run[] = [];
      for (const [i, acc] of accs.entries()) {
        const run = await tracking.createRun({ experimentId: exp.id, name: `r${i}`, tags: [{ key: 'fold', value: String(i) }] });
        assertShape('Run', run, RUN);
        assert.equal(run.status, 'RUNNING');
        await tracking.logBatch(run.id, {
          metrics: [
            { key: 'acc', value: acc / 2, step: 0 },
            { key: 'acc', value: acc, step: 1, timestamp: 1_700_000_000_000 + i },
            { key: 'loss', value: Number.NaN, step: 1 },
          ],
          params: [{ key: 'lr', value: String(0.01 * (i + 1)) }],
          tags: { owner: 'sdk' },
        });
        runs.push(run);
      }
      const child = await tracking.createRun({ experimentId: exp.id, name: 'child', parentRunId: runs[0]?.id });
      assert.equal(child.parentRunId, runs[0]?.id);
      const got = await tracking.getRun(runs[1]?.id ?? '');
      assertShape('Run', got, RUN);
      for (const m of got.metrics) assertShape('Metric', m, METRIC);
      assert.deepEqual(got.params, { lr: '0.02' });
      assert.deepEqual(got.tags['owner'], 'sdk');
      assert.deepEqual(got.tags['fold'], '1');
      const latest = Object.fromEntries(got.metrics.map((m) => [m.key, m.value] as const));
      assert.deepEqual(latest, { acc: 0.9, loss: 'NaN' });
      const loss = got.metrics.find((m) => m.key === 'loss');
      assert.ok(loss !== undefined && Number.isNaN(metricNumber(loss.value)));

      const page = await tracking.searchRuns({ experimentIds: [exp.id], filter: 'metrics.acc > 0.5', orderBy: ['metrics.acc DESC'], maxResults: 100 });
      assert.deepEqual(page.runs.map((r) => r.name), ['r1', 'r2']);
      assert.equal(page.nextPageToken, null);
      for (const r of page.runs) assertShape('Run', r, RUN);
      const byParam = await tracking.searchRuns({ experimentIds: [exp.id], filter: "params.lr = '0.04' and tags.owner = 'sdk'" });
      assert.deepEqual(byParam.runs.map((r) => r.name), ['r3']);
      const paged = await tracking.searchRuns({ experimentIds: [exp.id], filter: 'metrics.acc >= 0.3', orderBy: ['metrics.acc ASC'], maxResults: 3 });
      assert.deepEqual(paged.runs.map((r) => r.name), ['r0', 'r3', 'r2']);
      const rest = await tracking.searchRuns({ experimentIds: [exp.id], filter: 'metrics.acc >= 0.3', orderBy: ['metrics.acc ASC'], maxResults: 3, pageToken: paged.nextPageToken ?? undefined });
      assert.deepEqual(rest.runs.map((r) => r.name), ['r1']);

      const history = await tracking.metricHistory(runs[2]?.id ?? '', 'acc');
      for (const m of history.metrics) assertShape('Metric', m, METRIC);
      assert.deepEqual(history.metrics.map((m) => [m.step, m.value]), [[0, 0.35], [1, 0.7]]);
      assert.equal(history.metrics[1]?.timestamp, 1_700_000_000_002);
      await tracking.logMetric(runs[2]?.id ?? '', 'acc', 0.75, { step: 2 });
      const one = await tracking.metricHistory(runs[2]?.id ?? '', 'acc', { maxResults: 1 });
      assert.equal(one.metrics.length, 1);
      assert.ok(one.nextPageToken !== null);
      const all: Metric[] = [];
      for await (const m of tracking.metricHistoryAll(runs[2]?.id ?? '', 'acc')) all.push(m);
      assert.deepEqual(all.map((m) => m.value), [0.35, 0.7, 0.75]);

      // Params are write-once: the server's 400 comes back with its message.
      await rejectsWith(tracking.logBatch(runs[0]?.id ?? '', { params: { lr: '0.5' } }), 400, /lr/);
      const ended = await tracking.endRun(runs[0]?.id ?? '');
      assertShape('Run', ended, RUN);
      assert.equal(ended.status, 'FINISHED');
      assert.ok(ended.endTime !== null);
      const renamedRun = await tracking.updateRun(runs[3]?.id ?? '', { name: 'r3-renamed' });
      assert.equal(renamedRun.name, 'r3-renamed');
      await tracking.deleteRunTag(runs[3]?.id ?? '', 'owner');
      assert.equal((await tracking.getRun(runs[3]?.id ?? '')).tags['owner'], undefined);
      await tracking.deleteRun(runs[1]?.id ?? '');
      assert.deepEqual((await tracking.searchRuns({ experimentIds: [exp.id], filter: 'metrics.acc > 0.5' })).runs.map((r) => r.name), ['r2']);
      assert.deepEqual((await tracking.searchRuns({ experimentIds: [exp.id], filter: 'metrics.acc > 0.5', view: 'DELETED_ONLY' })).runs.map((r) => r.name), ['r1']);
      assert.equal((await tracking.restoreRun(runs[1]?.id ?? '')).lifecycleStage, 'active');

      // A 404 and a 400 from the server, as StrataApiError with its message.
      const nf = await rejectsWith(tracking.getRun('nosuchrun'), 404, /Run with id=nosuchrun not found/);
      assert.equal(nf.code, 'not_found');
      await rejectsWith(tracking.getExperiment('999999'), 404, /No Experiment with id=999999/);
      const br = await rejectsWith(tracking.searchRuns({ experimentIds: [exp.id], filter: 'metrics.acc >>> 1' }), 400, /./);
      assert.equal(br.code, 'bad_request');
    });

    test('tracking: run artifacts streamed up and down give the same bytes; listing, ranges, digest checks, delete', async () => {
      const exp = await tracking.createExperiment({ name: 'sdk-artifacts' });
      const run = await tracking.createRun({ experimentId: exp.id });
      // 3 MiB in 64 KiB chunks from an async generator: streamed, never one buffer.
      const chunk = (i: number): Uint8Array => Uint8Array.from({ length: 65536 }, (_, j) => (i * 31 + j) & 0xff);
      async function* big(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 48; i++) {
          await new Promise((r) => setImmediate(r)); // a producer that is slower than the network
          yield chunk(i);
        }
      }
      const expected = Buffer.concat(Array.from({ length: 48 }, (_, i) => chunk(i)));
      const up = await tracking.uploadArtifact(run.id, 'model/weights.bin', big());
      assertShape('UploadedArtifact', up, UPLOADED);
      assert.deepEqual(up, { path: 'model/weights.bin', digest: sha256(expected), size: expected.length, deduplicated: false });
      const dl = await tracking.downloadArtifact(run.id, 'model/weights.bin');
      assert.equal(dl.size, expected.length);
      assert.equal(dl.digest, sha256(expected));
      assert.ok((await bytesOf(dl.body)).equals(expected), 'the downloaded bytes are the uploaded bytes');
      const range = await tracking.downloadArtifact(run.id, 'model/weights.bin', { range: { start: 65530, end: 65546 } });
      assert.equal(range.status, 206);
      assert.ok((await bytesOf(range.body)).equals(expected.subarray(65530, 65546)));

      assert.equal((await tracking.uploadArtifact(run.id, 'model/MLmodel', 'flavors: {}\n', { digest: sha256('flavors: {}\n') })).size, 12);
      const same = await tracking.uploadArtifact(run.id, 'copy of weights.bin', expected);
      assert.equal(same.deduplicated, true);
      assert.equal(await text((await tracking.downloadArtifact(run.id, 'copy of weights.bin', { range: { start: 0, end: 1 } })).body), String.fromCharCode(expected[0] ?? 0));
      await rejectsWith(tracking.uploadArtifact(run.id, 'bad.txt', 'abc', { digest: sha256('other') }), 400, /digest|hash/i);
      // Dot segments would be resolved by URL parsing (the request would reach another route): refused before sending.
      await rejectsWith(tracking.uploadArtifact(run.id, '../escape.txt', 'x'), 400, /"\.\." cannot be a name, id or path segment/);
      await rejectsWith(tracking.downloadArtifact(run.id, 'model/./weights.bin'), 400, /"\." cannot be/);
      await rejectsWith(tracking.uploadArtifact(run.id, 'a%2F..%2Fb', 'x'), 400, /\.\./);

      const root = await tracking.listArtifacts(run.id);
      assertShape('ArtifactListing', root, LISTING);
      assert.equal(root.root, run.artifactUri);
      assert.deepEqual(root.files.map((f) => `${f.kind} ${f.path}`), ['file copy of weights.bin', 'directory model']);
      for (const f of root.files) assertShape('ArtifactEntry', f, f.kind === 'file' ? FILE_ENTRY : DIR_ENTRY);
      const dir = await tracking.listArtifacts(run.id, { path: 'model' });
      assert.deepEqual(dir.files.map((f) => (f.kind === 'file' ? `${f.path} ${f.size}` : f.path)), ['model/MLmodel 12', `model/weights.bin ${expected.length}`]);
      const paged = await tracking.listArtifacts(run.id, { path: 'model', maxResults: 1 });
      assert.equal(paged.files.length, 1);
      assert.deepEqual((await tracking.listArtifacts(run.id, { path: 'model', pageToken: paged.nextPageToken ?? undefined })).files.map((f) => f.path), ['model/weights.bin']);

      assert.deepEqual(await tracking.deleteArtifact(run.id, 'copy of weights.bin'), { files: 1, bytes: expected.length });
      await rejectsWith(tracking.downloadArtifact(run.id, 'copy of weights.bin'), 404, /./);
      await rejectsWith(tracking.deleteArtifact(run.id, 'copy of weights.bin'), 404, /No artifact 'copy of weights.bin'/);
    });

    test('registry: a version pinned to run artifacts; alias; card and gate; verify; provenance; lineage both ways', async () => {
      const exp = await tracking.createExperiment({ name: 'sdk-registry' });
      const run = await tracking.createRun({ experimentId: exp.id, name: 'train', tags: { 'mlflow.source.git.commit': 'abc123' } });
      await tracking.logBatch(run.id, { metrics: [{ key: 'acc', value: 0.93 }] });
      await tracking.logInputs(run.id, [{ name: 'mnist-train', digest: 'd1g35t', sourceType: 'local', source: 'file:///data/mnist', context: 'training' }]);
      const inputs = (await tracking.getRun(run.id)).inputs;
      assert.equal(inputs.length, 1);
      assertShape('RunInput', inputs[0], RUN_INPUT);
      const weights = Buffer.from('weights-v1');
      await tracking.uploadArtifact(run.id, 'model/weights.bin', weights);
      await tracking.uploadArtifact(run.id, 'model/MLmodel', 'flavors: {}\n');

      const model = await registry.createModel({ name: 'sdk-classifier', description: 'digits', tags: { task: 'vision' } });
      assertShape('RegisteredModel', model, MODEL);
      assert.deepEqual(model.tags, { task: 'vision' });
      await rejectsWith(registry.createModel({ name: 'sdk-classifier' }), 409, /sdk-classifier/);
      const v1 = await registry.createVersion('sdk-classifier', { source: `runs:/${run.id}/model`, description: 'first', tags: { stage: 'candidate' } });
      assertShape('ModelVersion', v1, VERSION);
      assert.equal(v1.version, 1);
      assert.equal(v1.status, 'READY');
      assert.equal(v1.runId, run.id);
      assert.equal(v1.files, 2);
      assert.deepEqual(await registry.getVersion('sdk-classifier', 1), v1);
      const files = await registry.files('sdk-classifier', 1);
      assertShape('VersionFiles', files, VERSION_FILES);
      for (const f of files.files) assertShape('ManifestFile', f, MANIFEST_FILE);
      assert.equal(files.manifestDigest, v1.manifestDigest);
      assert.deepEqual(files.files.map((f) => [f.path, f.digest]), [['MLmodel', sha256('flavors: {}\n')], ['weights.bin', sha256(weights)]]);
      assert.ok((await bytesOf((await registry.downloadFile('sdk-classifier', 1, 'weights.bin')).body)).equals(weights));
      await rejectsWith(registry.createVersion('sdk-classifier', { source: 'file:///etc/passwd' }), 400, /Invalid model version source/);
      await rejectsWith(registry.createVersion('sdk-classifier', { source: `runs:/${run.id}/nothing-here` }), 400, /no artifacts are stored there/);
      const v2 = await registry.createVersion('sdk-classifier', { source: `runs:/${run.id}/model/weights.bin`, runId: run.id });
      assert.equal(v2.version, 2);
      const versions = await registry.listVersions('sdk-classifier');
      assert.deepEqual(versions.versions.map((v) => v.version), [2, 1]);

      // An alias, and reading a version through it.
      const set = await registry.setAlias('sdk-classifier', 'champion', 1);
      assertShape('AliasSet', set, ALIAS_SET);
      assert.deepEqual(set, { alias: 'champion', version: 1, gate: null });
      const byAlias = await registry.getByAlias('sdk-classifier', 'champion');
      assert.equal(byAlias.version, 1);
      assert.deepEqual(byAlias.aliases, ['champion']);
      assert.deepEqual((await registry.getModel('sdk-classifier')).aliases, { champion: 1 });
      await rejectsWith(registry.setAlias('sdk-classifier', 'latest', 1), 400, /reserved alias/);

      // A gate on `production`: refused without a card (403 with the reasons), allowed with one.
      const gate = await registry.setGate('production', { requireModelCard: true, metrics: [{ key: 'acc', op: '>=', threshold: 0.9 }] });
      assertShape('PromotionGate', gate, GATE);
      assert.deepEqual((await registry.gates()).map((g) => g.alias), ['production']);
      const before = await registry.checkGate('sdk-classifier', 1, 'production');
      assertShape('GateCheckResult', before, GATE_CHECK);
      assert.equal(before.gated, true);
      assert.equal(before.allowed, false);
      assert.deepEqual(before.checks.map((c) => [c.kind, c.ok]), [['model-card', false], ['metric', true]]);
      await rejectsWith(registry.setAlias('sdk-classifier', 'production', 1), 403, /model card/);
      const card = await registry.setCard('sdk-classifier', 1, { intendedUse: 'digit recognition', data: 'MNIST', limitations: 'grey digits only', metrics: { acc: 0.93 }, fairness: { summary: 'n/a for digits', groups: [] } });
      assertShape('ModelCard', card, CARD);
      assert.deepEqual(await registry.getCard('sdk-classifier', 1), card);
      await rejectsWith(registry.getCard('sdk-classifier', 2), 404, /no model card yet/);
      const promoted = await registry.setAlias('sdk-classifier', 'production', 1);
      assert.equal(promoted.gate?.allowed, true);
      assertShape('GateDecision', promoted.gate, GATE_DECISION);
      // Without a gate the check answers in the same shape: allowed, no checks, not gated.
      assert.deepEqual(await registry.checkGate('sdk-classifier', 1, 'staging'), { alias: 'staging', allowed: true, checks: [], gated: false });
      await registry.deleteGate('production');
      assert.deepEqual(await registry.gates(), []);

      // Provenance: the server's verdict, and the bundle for verifying independently.
      const verdict = await registry.verify('sdk-classifier', 1);
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      if (verdict.ok) {
        assert.equal(verdict.manifestDigest, v1.manifestDigest);
        assert.equal(verdict.files, 2);
        assertShape('ProvenanceVerdict', verdict, ['ok', 'seq', 'manifestDigest', 'checkpointSize', 'root', 'files']);
      }
      const bundle = await registry.provenance('sdk-classifier', 1);
      assertShape('ProvenanceBundle', bundle, BUNDLE);
      assertShape('ProvenanceRecord', bundle.record, RECORD);
      assertShape('AuditEntry', bundle.entry, AUDIT_ENTRY, ['leafHash']);
      assertShape('SignedCheckpoint', bundle.checkpoint, CHECKPOINT);
      assert.equal(bundle.record.codeRevision, 'abc123');
      assert.deepEqual(bundle.record.run, { id: run.id, experimentId: exp.id });
      assert.deepEqual(bundle.record.datasets.map((d) => d.digest), ['d1g35t']);
      assert.match(bundle.publicKey, /BEGIN PUBLIC KEY/);

      // Lineage upstream (version → run → dataset) and downstream (dataset → run → versions).
      const up = await registry.versionLineage('sdk-classifier', 1);
      assertShape('VersionLineage', up, VERSION_LINEAGE);
      assertShape('LineageRun', up.run, LINEAGE_RUN);
      assert.equal(up.run?.id, run.id);
      assert.equal(up.run?.codeRevision, 'abc123');
      assert.deepEqual(up.datasets.map((d) => [d.name, d.digest, d.context]), [['mnist-train', 'd1g35t', 'training']]);
      for (const d of up.datasets) assertShape('LineageDataset', d, LINEAGE_DATASET);
      const ofRun = await registry.runLineage(run.id);
      assertShape('RunLineage', ofRun, RUN_LINEAGE);
      assert.deepEqual(ofRun.modelVersions.map((v) => [v.name, v.version, v.aliases]), [['sdk-classifier', 1, ['champion', 'production']], ['sdk-classifier', 2, []]]);
      for (const v of ofRun.modelVersions) assertShape('LineageVersion', v, LINEAGE_VERSION);
      const down = await registry.datasetLineage('d1g35t');
      assertShape('DatasetLineage', down, DATASET_LINEAGE);
      assert.deepEqual(down.runs.map((r) => [r.id, r.context]), [[run.id, 'training']]);
      assert.deepEqual(down.modelVersions.map((v) => v.version), [1, 2]);
      await rejectsWith(registry.datasetLineage('unknown-digest'), 404, /No dataset with digest 'unknown-digest'/);

      // Models: search, update, tags, stages, deletes.
      const found = await registry.searchModels({ filter: "name LIKE 'sdk-%'", orderBy: ['name ASC'] });
      assert.deepEqual(found.models.map((m) => m.name), ['sdk-classifier']);
      assert.equal((await registry.updateModel('sdk-classifier', { description: 'handwritten digits' })).description, 'handwritten digits');
      assert.deepEqual((await registry.setModelTag('sdk-classifier', 'owner', 'sdk')).tags, { task: 'vision', owner: 'sdk' });
      await registry.deleteModelTag('sdk-classifier', 'owner');
      assert.deepEqual((await registry.setVersionTag('sdk-classifier', 2, 'k', 'v')).tags, { k: 'v' });
      await registry.deleteVersionTag('sdk-classifier', 2, 'k');
      assert.equal((await registry.updateVersion('sdk-classifier', 2, { description: 'just weights' })).description, 'just weights');
      assert.equal((await registry.transitionStage('sdk-classifier', 2, 'Staging')).stage, 'Staging');
      await registry.deleteAlias('sdk-classifier', 'champion');
      await rejectsWith(registry.getByAlias('sdk-classifier', 'champion'), 404, /alias champion not found/);
      await registry.deleteVersion('sdk-classifier', 2);
      await rejectsWith(registry.getVersion('sdk-classifier', 2), 404, /Model Version \(name=sdk-classifier, version=2\) not found/);
      const renamed = await registry.updateModel('sdk-classifier', { name: 'sdk-digits' });
      assert.equal(renamed.name, 'sdk-digits');
      await registry.deleteModel('sdk-digits');
      const gone = await rejectsWith(registry.getModel('sdk-digits'), 404, /Registered Model with name=sdk-digits not found/);
      assert.equal(gone.code, 'not_found');
      // Odd names stay one path segment: the server's pattern refuses them (never another route).
      await rejectsWith(registry.getModel('bad/name'), 400, /params\.name must match pattern/);
      await rejectsWith(registry.getModel('..'), 400, /"\.\." cannot be a name/);
      await rejectsWith(jobs.cancel('..'), 400, /"\.\." cannot be a name/);
      await rejectsWith(jobs.get(''), 400, /"" cannot be a name/);
    });
  });
}
