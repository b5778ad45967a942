// Gangs under chaos (issue 3 "Reliability" applied to gangs): a `strata server` child process, three
// `strata agent` child processes (1 CPU each), two dozen two-replica gangs whose replicas record
// their start and end with their rank, an agent SIGKILLed mid-run and restarted, and the server
// restarted. At the end every gang succeeded exactly once: one attempt number whose every replica
// succeeded, each of those replicas' processes ran to the end, no replica row of any attempt is
// left running, and no attempt has more rows than the gang has replicas. SQLite; the PostgreSQL
// paths of gangs are covered by test/gangs.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, killHard, readAdminToken, runCli, sleep, startAgentProcess, startServerProcess, stopProcess } from './support/strata-processes.ts';
import type { Child, ServerProcess } from './support/strata-processes.ts';

type Json = Record<string, unknown>;
const GANGS = 24;
const LEASE_SECONDS = 3;
const BUDGET_MS = 150_000;

test(`${GANGS} two-replica gangs survive a SIGKILLed agent and a server restart`, { timeout: BUDGET_MS + 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-gang-rel-'));
  const home = join(dir, 'home');
  const records = join(dir, 'records.log');
  writeFileSync(records, '');
  const env: NodeJS.ProcessEnv = { ...process.env, STRATA_HOME: home, STRATA_CONFIG: join(dir, 'config.json') };
  for (const k of ['STRATA_TOKEN', 'STRATA_DATABASE_URL', 'STRATA_SERVER', 'STRATA_CONTEXT', 'STRATA_LEASE_SECONDS']) delete env[k];
  const history: string[] = [];
  const t0 = Date.now();
  const note = (what: string): void => void history.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  let server: ServerProcess | undefined;
  const agents = new Map<string, { token: string; child: Child | undefined }>();
  try {
    server = await startServerProcess({ env, leaseSeconds: LEASE_SECONDS });
    env['STRATA_SERVER'] = server.url;
    const admin = readAdminToken(home);
    const call = (method: string, path: string, body?: unknown): ReturnType<typeof api> => api((server as ServerProcess).url, admin, method, path, body);
    const startAgent = async (name: string): Promise<void> => {
      const a = agents.get(name) as { token: string; child: Child | undefined };
      const workDir = join(dir, `work-${name}`);
      mkdirSync(workDir, { recursive: true });
      for (let i = 0; ; i++) {
        try {
          a.child = await startAgentProcess({ env, url: (server as ServerProcess).url, token: a.token, name, workDir });
          note(`agent ${name} started`);
          return;
        } catch (e) {
          if (i >= 20) throw e;
          await sleep(500);
        }
      }
    };
    for (const name of ['g1', 'g2', 'g3']) {
      const r = await call('POST', '/api/v1/nodes', { name });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      agents.set(name, { token: String((r.body as Json)['token']), child: undefined });
      await startAgent(name);
    }

    // Each replica records "S|E job attempt rank time"; 400m CPU per replica, so a gang either
    // shares a node or spans two.
    const stamp = (tag: string): string => `echo "${tag} $STRATA_JOB_ID $STRATA_ATTEMPT $RANK $(date +%s%N)" >> ${records}`;
    const ids: string[] = [];
    const submitting = (async () => {
      for (let i = 0; i < GANGS; i++) {
        for (;;) {
          const r = await call('POST', '/api/v1/projects/default/jobs', {
            name: `gang-${i}`, command: ['sh', '-c', `${stamp('S')}; sleep 0.4; ${stamp('E')}`], replicas: 2,
            resources: { cpu: '400m', memory: '64Mi' }, maxAttempts: 20, backoff: { initialSeconds: 1, maxSeconds: 2 },
          }).catch(() => undefined);
          if (r?.status === 201) {
            ids.push(String((r.body as Json)['id']));
            break;
          }
          await sleep(300); // the server is restarting
        }
        await sleep(150);
      }
    })();

    // Chaos: kill an agent while gangs run on it, restart it; then restart the server.
    await sleep(1500);
    const victim = agents.get('g2') as { token: string; child: Child | undefined };
    if (victim.child !== undefined) {
      killHard(victim.child);
      await victim.child.exited;
      note('agent g2 SIGKILLed');
    }
    await sleep(2000);
    await startAgent('g2');
    await sleep(1000);
    const stopped = await stopProcess(server.child);
    note(`server stopped (SIGTERM) in ${stopped.ms} ms`);
    server = await startServerProcess({ env, port: server.port, leaseSeconds: LEASE_SECONDS });
    note('server restarted');
    await submitting;

    // Wait for every gang to end.
    const deadline = t0 + BUDGET_MS;
    const jobs = new Map<string, Json>();
    while (jobs.size < ids.length) {
      if (Date.now() > deadline) throw new Error(`time budget exceeded: ${ids.length - jobs.size} gangs not terminal\n${history.join('\n')}`);
      for (const id of ids) {
        if (jobs.has(id)) continue;
        const r = await call('GET', `/api/v1/projects/default/jobs/${id}`).catch(() => undefined);
        const j = r?.body as Json | undefined;
        if (j !== undefined && ['succeeded', 'failed', 'cancelled'].includes(String(j['state']))) jobs.set(id, j);
      }
      await sleep(250);
    }
    // Stopped siblings report within a heartbeat or two; then every attempt row has ended.
    await sleep(LEASE_SECONDS * 1000);

    const ran = new Map<string, { start?: number; end?: number }>();
    for (const line of readFileSync(records, 'utf8').split('\n')) {
      const m = /^([SE]) (job_[0-9a-z]+) (\d+) (\d+) (\d+)$/.exec(line);
      if (m === null) continue;
      const key = `${m[2] as string}#${m[3] as string}#${m[4] as string}`;
      const e = ran.get(key) ?? {};
      if (m[1] === 'S') e.start = Number(m[5]);
      else e.end = Number(m[5]);
      ran.set(key, e);
    }
    const problems: string[] = [];
    let retried = 0;
    for (const id of ids) {
      const j = (await call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
      if (j['state'] !== 'succeeded') {
        problems.push(`${id}: ${String(j['state'])}: ${String(j['reason'])}`);
        continue;
      }
      const attempts = j['attemptList'] as Json[];
      const byNumber = new Map<number, Json[]>();
      for (const a of attempts) byNumber.set(Number(a['number']), [...(byNumber.get(Number(a['number'])) ?? []), a]);
      if (byNumber.size > 1) retried += 1;
      const winners = [...byNumber].filter(([, rows]) => rows.length === 2 && rows.every((a) => a['state'] === 'succeeded'));
      if (winners.length !== 1) problems.push(`${id}: ${winners.length} fully succeeded attempts: ${JSON.stringify(attempts.map((a) => [a['number'], a['replica'], a['state']]))}`);
      if ([...byNumber.values()].some((rows) => rows.length > 2)) problems.push(`${id}: an attempt with more than 2 replica rows`);
      const left = attempts.filter((a) => a['state'] === 'running' || a['endedAt'] === null);
      if (left.length > 0) problems.push(`${id}: replica rows still running: ${JSON.stringify(left.map((a) => [a['number'], a['replica']]))}`);
      const n = winners[0]?.[0];
      for (const rank of [0, 1]) {
        const e = ran.get(`${id}#${String(n)}#${rank}`);
        if (e?.start === undefined || e.end === undefined) problems.push(`${id}: rank ${rank} of the winning attempt ${String(n)} did not run to the end`);
      }
      if (Number(j['attempts']) !== Math.max(...byNumber.keys())) problems.push(`${id}: job says ${String(j['attempts'])} attempts, rows go to ${Math.max(...byNumber.keys())}`);
    }
    process.stderr.write(`gang-reliability: ${ids.length} gangs, ${retried} retried at least once; ${history.join('; ')}\n`);
    assert.equal(ids.length, GANGS);
    assert.deepEqual(problems, [], `\n${history.join('\n')}`);
    const verify = await runCli(env, 'audit', 'verify');
    assert.equal(verify.code, 0, verify.out);
  } finally {
    for (const a of agents.values()) if (a.child !== undefined) killHard(a.child);
    if (server !== undefined) await stopProcess(server.child, 5000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
