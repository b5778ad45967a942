// A SIGKILLed agent leaves its job processes running (each runs in its own process group). The
// restarted agent kills the groups its earlier life noted — only if the noted leader is still the
// same process (pid and start time), and only its own (agents may share a work root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../kernel/index.ts';
import { normaliseJobSpec } from '../jobs/index.ts';
import type { JobId, AttemptId } from '../kernel/index.ts';
import { reapOrphans, startProcess } from './executors/process.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exited = (c: ChildProcess): Promise<void> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
const startOf = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19] ?? '';

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  return c;
}

test('reapOrphans kills the noted process groups that are still the same processes, and only this agent’s', async () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-orphans-'));
  const mine = join(root, '.running', 'n1');
  const theirs = join(root, '.running', 'n2');
  mkdirSync(mine, { recursive: true });
  mkdirSync(theirs, { recursive: true });
  const orphan = sleeper();
  const reused = sleeper();
  const other = sleeper();
  try {
    const [a, b, c] = [orphan.pid, reused.pid, other.pid] as number[];
    writeFileSync(join(mine, `${a}.json`), JSON.stringify({ pid: a, start: startOf(a as number), job: 'job_a', attempt: 1 }));
    // The noted pid now belongs to another process (different start time): left alone.
    writeFileSync(join(mine, `${b}.json`), JSON.stringify({ pid: b, start: '1', job: 'job_b', attempt: 1 }));
    // Another agent's group on the same work root: not this agent's to kill.
    writeFileSync(join(theirs, `${c}.json`), JSON.stringify({ pid: c, start: startOf(c as number), job: 'job_c', attempt: 1 }));
    writeFileSync(join(mine, 'garbage.json'), '{');
    const logs: string[] = [];
    assert.equal(reapOrphans(root, 'n1', (m) => logs.push(m)), 1);
    await exited(orphan);
    assert.equal(orphan.signalCode, 'SIGKILL');
    assert.ok(alive(b as number) && alive(c as number));
    assert.match(logs.join('\n'), /job_a attempt 1/);
    assert.deepEqual(readdirSync(mine), [], 'every record of this agent is consumed');
    assert.equal(readdirSync(theirs).length, 1);
  } finally {
    for (const p of [orphan, reused, other]) if (p.pid !== undefined && alive(p.pid)) process.kill(-p.pid, 'SIGKILL');
  }
});

test('startProcess notes the group it starts; a restarted agent reaps it; a normal end removes the note', async () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-orphans-'));
  const lease = (cmd: string[], number: number) => ({
    attemptId: `att_${number}` as AttemptId, jobId: 'job_x' as JobId, project: 'default', number, leaseToken: 't', leaseExpiresAt: '', leaseSeconds: 30,
    spec: normaliseJobSpec({ name: 'x', command: cmd }), secretEnv: {},
  });
  const opts = { workRoot: root, agentName: 'n1', clock: systemClock, graceSeconds: 1, onOutput: () => undefined };
  const quick = startProcess(lease(['true'], 1), opts);
  assert.equal((await quick.done).exitCode, 0);
  assert.deepEqual(readdirSync(join(root, '.running', 'n1')), [], 'the note goes when the process ends');
  const long = startProcess(lease(['sleep', '600'], 2), opts);
  assert.equal(readdirSync(join(root, '.running', 'n1')).length, 1);
  // The agent "dies" without stopping it; its next life reaps the group.
  assert.equal(reapOrphans(root, 'n1'), 1);
  const r = await long.done;
  assert.equal(r.exitCode, null);
  assert.match(r.reason, /SIGKILL/);
});
