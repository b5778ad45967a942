// The audit log over real databases: gapless under concurrency, atomic with the change it records,
// and every edit, deletion, reordering or truncation of stored rows detected by the verifier —
// even by someone with database superuser rights who bypasses the append-only triggers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { sql } from 'kysely';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { createPlatform } from '../src/api/platform.ts';
import { audit as core } from '../src/access/index.ts';
import type { AuditLog } from '../src/access/index.ts';
import type { Store } from '../src/store/index.ts';

async function* rows(log: AuditLog): AsyncGenerator<core.StoredAuditEntry> {
  let from = 0;
  for (;;) {
    const page = await log.entries(from, 500);
    yield* page;
    if (page.length < 500) return;
    from = (page.at(-1)?.seq ?? 0) + 1;
  }
}

async function verify(tp: TestPlatform, checkpoint: core.SignedCheckpoint): Promise<{ ok: boolean; reason?: string; seq?: number }> {
  return core.verifyAuditLog({ entries: rows(tp.platform.audit), checkpoint, publicKey: tp.platform.audit.publicKey });
}

/** Acting as a database superuser: switch the append-only triggers off. */
async function bypassTriggers(store: Store): Promise<void> {
  if (store.dialect === 'sqlite') {
    await sql`DROP TRIGGER audit_events_no_update`.execute(store.db);
    await sql`DROP TRIGGER audit_events_no_delete`.execute(store.db);
  } else {
    await sql`ALTER TABLE audit_events DISABLE TRIGGER USER`.execute(store.db);
  }
}

async function seed(tp: TestPlatform, n: number): Promise<core.SignedCheckpoint> {
  for (let i = 0; i < n; i++) {
    const r = await tp.call('POST', '/api/v1/teams', { body: { name: `team-${i}` } });
    assert.equal(r.status, 201);
  }
  return tp.platform.audit.checkpoint();
}

for (const kind of databaseKinds) {
  test(`${kind}: concurrent appends give a gapless sequence`, async () => {
    const tp = await startTestPlatform(kind);
    try {
      const before = await tp.platform.audit.size();
      const res = await Promise.all(Array.from({ length: 40 }, (_, i) => tp.call('POST', '/api/v1/teams', { body: { name: `c-${i}` } })));
      assert.ok(res.every((r) => r.status === 201));
      const seqs: number[] = [];
      for await (const e of rows(tp.platform.audit)) seqs.push(e.seq);
      assert.deepEqual(seqs, Array.from({ length: before + 40 }, (_, i) => i));
      const cp = await tp.platform.audit.checkpoint();
      assert.equal((await verify(tp, cp)).ok, true);
    } finally {
      await tp.close();
    }
  });

  test(`${kind}: appends interleaved with rolled-back transactions stay gapless`, async () => {
    const tp = await startTestPlatform(kind);
    try {
      const before = await tp.platform.audit.size();
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) =>
          tp.platform.store.transaction(async (tx) => {
            await tp.platform.audit.append(tx, { actor: 'system', action: 'test.interleave', resource: `r/${i}` });
            if (i % 4 === 3) throw new Error('abort after append');
          }),
        ),
      );
      const committed = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(committed, 45);
      // More appends after the rollbacks must continue the sequence without a hole.
      await Promise.all(Array.from({ length: 5 }, (_, i) => tp.platform.audit.appendAlone({ actor: 'system', action: 'test.after', resource: `a/${i}` })));
      const seqs: number[] = [];
      for await (const e of rows(tp.platform.audit)) seqs.push(e.seq);
      assert.deepEqual(seqs, Array.from({ length: before + committed + 5 }, (_, i) => i));
      const cp = await tp.platform.audit.checkpoint();
      assert.equal((await verify(tp, cp)).ok, true);
    } finally {
      await tp.close();
    }
  });

  test(`${kind}: a change that rolls back leaves no audit entry, and an entry never outlives its change`, async () => {
    const tp = await startTestPlatform(kind);
    try {
      const before = await tp.platform.audit.size();
      await assert.rejects(
        tp.platform.store.transaction(async (tx) => {
          await tp.platform.audit.append(tx, { actor: 'system', action: 'test.rollback', resource: 'x' });
          throw new Error('abort');
        }),
      );
      assert.equal(await tp.platform.audit.size(), before);
      // A conflicting create fails as a whole: no team row, no audit row.
      assert.equal((await tp.call('POST', '/api/v1/teams', { body: { name: 'dup' } })).status, 201);
      assert.equal((await tp.call('POST', '/api/v1/teams', { body: { name: 'dup' } })).status, 409);
      assert.equal(await tp.platform.audit.size(), before + 1);
    } finally {
      await tp.close();
    }
  });

  const tamperings: [string, (store: Store) => Promise<void>, RegExp, number | undefined][] = [
    ['an edited row', (s) => sql`UPDATE audit_events SET actor = 'someone-else' WHERE seq = 7`.execute(s.db).then(() => undefined), /entry 7: stored leaf hash does not match/, 7],
    [
      'an edited row whose leaf hash was recomputed too',
      async (s) => {
        const r = await s.db.selectFrom('audit_events').selectAll().where('seq', '=', 5).executeTakeFirstOrThrow();
        const entry: core.AuditEntry = { v: 1, seq: 5, time: r.time, actor: 'forged', action: r.action, resource: r.resource, project: r.project, outcome: 'success', requestId: r.request_id, beforeHash: r.before_hash, afterHash: r.after_hash, details: JSON.parse(r.details) as Record<string, unknown> };
        await s.db.updateTable('audit_events').set({ actor: 'forged', leaf_hash: core.entryLeafHashHex(entry) }).where('seq', '=', 5).execute();
      },
      /root at size \d+ does not match/,
      undefined,
    ],
    ['a deleted row', (s) => sql`DELETE FROM audit_events WHERE seq = 3`.execute(s.db).then(() => undefined), /entry 3 missing/, 3],
    [
      'two swapped rows',
      async (s) => {
        await sql`UPDATE audit_events SET seq = -1 WHERE seq = 4`.execute(s.db);
        await sql`UPDATE audit_events SET seq = 4 WHERE seq = 6`.execute(s.db);
        await sql`UPDATE audit_events SET seq = 6 WHERE seq = -1`.execute(s.db);
      },
      /entry 4/,
      4,
    ],
    ['a truncated tail', (s) => sql`DELETE FROM audit_events WHERE seq >= 9`.execute(s.db).then(() => undefined), /truncated/, 9],
  ];
  for (const [what, tamper, reason, seq] of tamperings) {
    test(`${kind}: ${what} is detected and named`, async () => {
      const tp = await startTestPlatform(kind);
      try {
        const cp = await seed(tp, 10);
        assert.equal((await verify(tp, cp)).ok, true);
        // The trigger refuses the change for the application...
        await assert.rejects(sql`UPDATE audit_events SET actor = 'x' WHERE seq = 1`.execute(tp.platform.store.db), /append-only/);
        // ...and a superuser who gets past it is caught by the verifier.
        await bypassTriggers(tp.platform.store);
        await tamper(tp.platform.store);
        const r = await verify(tp, cp);
        assert.equal(r.ok, false);
        assert.match(r.reason ?? '', reason);
        if (seq !== undefined) assert.equal(r.seq, seq);
      } finally {
        await tp.close();
      }
    });
  }
}

test('sqlite: kill -9 in the middle of appends leaves every change with its audit entry, or neither', async () => {
  const home = mkdtempSync(join(tmpdir(), 'strata-kill-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'append-forever.ts'), home], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout, 'data');
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const p = await createPlatform({ home });
    try {
      const teams = await p.store.db.selectFrom('teams').select(['id']).execute();
      const events = await p.store.db.selectFrom('audit_events').select(['action', 'resource']).where('action', '=', 'team.create').execute();
      const audited = new Set(events.map((e) => e.resource));
      assert.ok(teams.length > 5, `the child made progress (${teams.length} teams)`);
      for (const t of teams) assert.ok(audited.has(`team/${t.id}`), `team ${t.id} has its audit entry`);
      assert.equal(events.length, teams.length, 'no audit entry without its change');
      const cp = await p.audit.checkpoint();
      let from = 0;
      const all: core.StoredAuditEntry[] = [];
      for (;;) {
        const page = await p.audit.entries(from, 1000);
        all.push(...page);
        if (page.length < 1000) break;
        from = all.length;
      }
      const r = await core.verifyAuditLog({ entries: all, checkpoint: cp, publicKey: p.audit.publicKey });
      assert.equal(r.ok, true, JSON.stringify(r));
    } finally {
      await p.close();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
