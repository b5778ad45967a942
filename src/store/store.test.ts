// Store contract: the same suite against SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { CompiledQuery, sql } from 'kysely';
import { openStore, isUniqueViolation, precompile, runQuery } from './index.ts';
import { BACKSTOP_AUTOCHECKPOINT_PAGES } from './checkpointer.ts';
import type { DialectSql, Store } from './index.ts';
import { databaseKinds, freshDatabase } from '../../test/support/databases.ts';

async function withStore(kind: 'sqlite' | 'postgres', fn: (s: Store) => Promise<void>): Promise<void> {
  const tdb = await freshDatabase(kind);
  const store = await openStore({ url: tdb.url });
  try {
    await fn(store);
  } finally {
    await store.close();
    await tdb.drop();
  }
}

const auditRow = (seq: number) => ({
  seq, v: 1, time: '2026-01-01T00:00:00.000Z', actor: 'system', action: 'test', resource: 'x', project: null,
  outcome: 'success', request_id: null, before_hash: null, after_hash: null, details: '{}', leaf_hash: 'ab',
});

for (const kind of databaseKinds) {
  test(`${kind}: migrations apply and are idempotent on reopen`, async () => {
    const tdb = await freshDatabase(kind);
    try {
      const s1 = await openStore({ url: tdb.url });
      await s1.db.insertInto('teams').values({ id: 't1', name: 'a', created_at: 'now' }).execute();
      await s1.close();
      const s2 = await openStore({ url: tdb.url });
      const rows = await s2.db.selectFrom('teams').selectAll().execute();
      assert.equal(rows.length, 1);
      await s2.close();
    } finally {
      await tdb.drop();
    }
  });

  test(`${kind}: a transaction that throws leaves nothing behind`, async () => {
    await withStore(kind, async (s) => {
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.insertInto('teams').values({ id: 't1', name: 'a', created_at: 'now' }).execute();
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await s.db.selectFrom('teams').selectAll().execute()).length, 0);
    });
  });

  test(`${kind}: unique violations are recognised`, async () => {
    await withStore(kind, async (s) => {
      await s.db.insertInto('teams').values({ id: 't1', name: 'a', created_at: 'now' }).execute();
      const err = await s.db.insertInto('teams').values({ id: 't2', name: 'a', created_at: 'now' }).execute().catch((e: unknown) => e);
      assert.ok(isUniqueViolation(err), `expected unique violation, got ${String(err)}`);
    });
  });

  test(`${kind}: audit_events refuses UPDATE and DELETE at the database level`, async () => {
    await withStore(kind, async (s) => {
      await s.db.insertInto('audit_events').values(auditRow(0)).execute();
      await assert.rejects(s.db.updateTable('audit_events').set({ actor: 'mallory' }).execute(), /append-only/);
      await assert.rejects(s.db.deleteFrom('audit_events').execute(), /append-only/);
      if (kind === 'postgres') await assert.rejects(sql`TRUNCATE audit_events`.execute(s.db), /append-only/);
      const rows = await s.db.selectFrom('audit_events').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.actor, 'system');
      assert.equal(typeof rows[0]?.seq, 'number');
    });
  });

  test(`${kind}: hostile identifiers and values are bound, never spliced (SQL injection)`, async () => {
    await withStore(kind, async (s) => {
      const evil = "x'); DROP TABLE teams; --";
      await s.db.insertInto('teams').values({ id: 't1', name: evil, created_at: 'now' }).execute();
      const row = await s.db.selectFrom('teams').selectAll().where('name', '=', evil).executeTakeFirst();
      assert.equal(row?.name, evil);
      const compiled = s.db.selectFrom('teams').selectAll().where('name', '=', evil).compile();
      assert.ok(!compiled.sql.includes('DROP TABLE'), compiled.sql);
      assert.equal((await s.db.selectFrom('teams').selectAll().execute()).length, 1);
    });
  });

  test(`${kind}: concurrent transactions under the named lock serialise`, async () => {
    await withStore(kind, async (s) => {
      await s.db.insertInto('strata_meta').values({ key: 'counter', value: '0' }).execute();
      await Promise.all(
        Array.from({ length: 20 }, () =>
          s.transaction(async (tx) => {
            await s.lock(tx, 'counter');
            const row = await tx.selectFrom('strata_meta').select('value').where('key', '=', 'counter').executeTakeFirstOrThrow();
            await tx.updateTable('strata_meta').set({ value: String(Number(row.value) + 1) }).where('key', '=', 'counter').execute();
          }),
        ),
      );
      const row = await s.db.selectFrom('strata_meta').select('value').where('key', '=', 'counter').executeTakeFirstOrThrow();
      assert.equal(row.value, '20');
    });
  });

  test(`${kind}: concurrent transactions commit or fail one by one (a failure in a shared commit undoes only itself)`, async () => {
    await withStore(kind, async (s) => {
      await s.db.insertInto('teams').values({ id: 'taken', name: 'taken', created_at: 'now' }).execute();
      const rollbacksBefore = s.rollbacks();
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          s.transaction(async (tx) => {
            await tx.insertInto('teams').values({ id: `t${i}`, name: `team-${i}`, created_at: 'now' }).execute();
            if (i % 3 === 1) throw new Error(`refused ${i}`);
            // Every third one also collides on the unique name: a database error, not a thrown one.
            if (i % 3 === 2) await tx.insertInto('teams').values({ id: `x${i}`, name: 'taken', created_at: 'now' }).execute();
            return i;
          }),
        ),
      );
      const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.deepEqual(ok, Array.from({ length: 10 }, (_, k) => 3 * k));
      results.forEach((r, i) => {
        if (i % 3 === 1) assert.match(r.status === 'rejected' ? String(r.reason) : '', new RegExp(`refused ${i}`));
        if (i % 3 === 2) assert.ok(r.status === 'rejected' && isUniqueViolation(r.reason), `transaction ${i}: ${String(r.status === 'rejected' ? r.reason : 'fulfilled')}`);
      });
      const rows = await s.db.selectFrom('teams').select('id').where('id', '!=', 'taken').execute();
      assert.deepEqual(rows.map((r) => r.id).sort(), ok.map((i) => `t${i}`).sort());
      if (kind === 'sqlite') assert.equal(s.rollbacks() - rollbacksBefore, 20);
      else assert.equal(s.rollbacks(), 0);
    });
  });

  test(`${kind}: a caller hears of success only once its transaction is committed`, async () => {
    await withStore(kind, async (s) => {
      const seen: number[] = [];
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          s
            .transaction(async (tx) => {
              await tx.insertInto('teams').values({ id: `t${i}`, name: `team-${i}`, created_at: 'now' }).execute();
            })
            .then(async () => {
              // Read outside any transaction: the row must already be visible.
              const row = await s.db.selectFrom('teams').select('id').where('id', '=', `t${i}`).executeTakeFirst();
              if (row !== undefined) seen.push(i);
            }),
        ),
      );
      assert.equal(seen.length, 10);
    });
  });

  test(`${kind}: runQuery answers as executeQuery does, and its writes commit or roll back with their transaction`, async () => {
    await withStore(kind, async (s) => {
      const p = (n: number): string => (kind === 'sqlite' ? '?' : `$${n}`);
      const insert = (id: string, name: string): CompiledQuery => CompiledQuery.raw(`insert into teams (id, name, created_at) values (${p(1)}, ${p(2)}, 'now')`, [id, name]);
      const select = CompiledQuery.raw(`select id, name from teams order by id`, []);
      const rename = (id: string, name: string): CompiledQuery => CompiledQuery.raw(`update teams set name = ${p(1)} where id = ${p(2)} returning id, name`, [name, id]);
      assert.equal((await runQuery(s.db, insert('a', 'alpha'))).numAffectedRows, 1n);
      await s.transaction(async (tx) => {
        const direct = await runQuery(tx, insert('b', 'beta'));
        const kysely = await tx.executeQuery(insert('c', 'gamma'));
        assert.deepEqual([direct.numAffectedRows, direct.rows], [kysely.numAffectedRows, kysely.rows]);
        assert.deepEqual(await runQuery(tx, select), await tx.executeQuery(select));
        assert.deepEqual((await runQuery(tx, rename('b', 'b2'))).rows, [{ id: 'b', name: 'b2' }]);
        await assert.rejects(runQuery(tx, insert('x', 'alpha')), (e: unknown) => isUniqueViolation(e));
      }).catch((e: unknown) => {
        // PostgreSQL aborts a transaction at its first error; SQLite goes on (the failed statement alone is undone).
        if (kind === 'sqlite') throw e;
      });
      const expected = kind === 'sqlite' ? [['a', 'alpha'], ['b', 'b2'], ['c', 'gamma']] : [['a', 'alpha']];
      assert.deepEqual((await s.db.selectFrom('teams').select(['id', 'name']).orderBy('id').execute()).map((r) => [r.id, r.name]), expected);
      // Transactions that share a commit: one that throws takes only its own direct writes with it.
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          s.transaction(async (tx) => {
            await runQuery(tx, insert(`g${String(i).padStart(2, '0')}`, `group-${i}`));
            await runQuery(tx, rename('a', `renamed by ${i}`));
            if (i % 3 === 1) throw new Error(`refused ${i}`);
          }),
        ),
      );
      assert.deepEqual(results.map((r) => r.status), Array.from({ length: 12 }, (_, i) => (i % 3 === 1 ? 'rejected' : 'fulfilled')));
      const groupRows = await s.db.selectFrom('teams').select('id').where('id', 'like', 'g%').orderBy('id').execute();
      assert.deepEqual(groupRows.map((r) => r.id), ['g00', 'g02', 'g03', 'g05', 'g06', 'g08', 'g09', 'g11']);
      // The last committed rename wins (on PostgreSQL the transactions run side by side, in any order).
      const renamed = (await s.db.selectFrom('teams').select('name').where('id', '=', 'a').executeTakeFirstOrThrow()).name;
      if (kind === 'sqlite') assert.equal(renamed, 'renamed by 11');
      else assert.match(renamed, /^renamed by (0|2|3|5|6|8|9|11)$/);
    });
  });

  test(`${kind}: firstValue reads one committed value, never a transaction's uncommitted one`, async () => {
    await withStore(kind, async (s) => {
      const nameOf: DialectSql = { sqlite: 'select name from teams where id = ?', postgres: 'select name from teams where id = $1' };
      const createdOf: DialectSql = { sqlite: 'select created_at from teams where id = ?', postgres: 'select created_at from teams where id = $1' };
      await s.db.insertInto('teams').values({ id: 't1', name: "o'hara; --", created_at: 'now' }).execute();
      assert.equal(await s.firstValue(nameOf, ['t1']), "o'hara; --");
      assert.equal(await s.firstValue(nameOf, ['none']), undefined, 'no row');
      assert.equal(await s.firstValue(createdOf, ['t1']), 'now');
      // Read while another caller's transaction has written but not committed; that transaction then rolls back.
      let read: Promise<unknown> | undefined;
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.insertInto('teams').values({ id: 't2', name: 'uncommitted', created_at: 'now' }).execute();
          await tx.updateTable('teams').set({ name: 'changed' }).where('id', '=', 't1').execute();
          read = Promise.all([s.firstValue(nameOf, ['t2']), s.firstValue(nameOf, ['t1'])]);
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.deepEqual(await read, [undefined, "o'hara; --"]);
    });
  });

  test(`${kind}: a precompiled query binds each call's values (hostile ones too) and refuses a misused placeholder`, async () => {
    await withStore(kind, async (s) => {
      const insert = precompile(s.db, ['id', 'name'] as const, (db, p) => db.insertInto('teams').values({ id: p.id, name: p.name, created_at: 'now' }));
      const byName = precompile(s.db, ['name'] as const, (db, p) => db.selectFrom('teams').select(['id', 'name']).where('name', '=', p.name));
      const evil = "x'); DROP TABLE teams; --";
      await insert(s.db, { id: 't1', name: 'alpha' });
      await s.transaction(async (tx) => {
        await insert(tx, { id: 't2', name: evil });
      });
      assert.deepEqual((await byName(s.db, { name: evil })).rows, [{ id: 't2', name: evil }]);
      assert.deepEqual((await byName(s.db, { name: 'alpha' })).rows, [{ id: 't1', name: 'alpha' }]);
      assert.equal((await s.db.selectFrom('teams').selectAll().execute()).length, 2);
      assert.throws(
        () => precompile(s.db, ['name'] as const, (db, p) => db.selectFrom('teams').selectAll().where('name', '=', p.name).where('id', '=', p.name)),
        /exactly once/,
      );
    });
  });
}

test('sqlite: WAL checkpoints run on a worker thread, not inside commits', async () => {
  const tdb = await freshDatabase('sqlite');
  const size = (f: string): number => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  try {
    const store = await openStore({ url: tdb.url, checkpointDelayMs: 0 });
    try {
      // Commits leave checkpoints to the thread: their own automatic limit is the far larger backstop.
      const limit = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.db);
      assert.equal(Number(limit.rows[0]?.wal_autocheckpoint), BACKSTOP_AUTOCHECKPOINT_PAGES);
      // ~2,400 WAL frames: past SQLite's default limit (1,000 pages), well below the backstop.
      const blob = 'x'.repeat(4000);
      for (let i = 0; i < 300; i++) await store.transaction((tx) => tx.insertInto('teams').values({ id: `t${i}`, name: `${i}${blob}`, created_at: 'now' }).execute());
      // Only a checkpoint moves pages from the WAL into the database file; nothing here runs one.
      for (let tries = 0; tries < 100 && size(tdb.url) < 2_000_000; tries++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(size(tdb.url) >= 2_000_000, `the background thread checkpointed the WAL into the database file (it is ${size(tdb.url)} bytes)`);
    } finally {
      await store.close();
    }
    // Closed cleanly: the last connection checkpointed and removed the WAL, and the data is all there.
    assert.equal(size(`${tdb.url}-wal`), 0);
    const again = await openStore({ url: tdb.url, backgroundCheckpoints: false });
    assert.equal(Number((await again.db.selectFrom('teams').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n), 300);
    await again.close();
  } finally {
    await tdb.drop();
  }
});

test('sqlite: the savepoint journals of a shared commit stay in memory, not in temp files', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc/self/fd (Linux)' }, async () => {
  // SQLite's default spills a statement journal past 64 KiB into a new, unlinked file in /var/tmp.
  const tempFiles = (): string[] =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return /etilqs_/.test(target) ? [target] : [];
      } catch {
        return []; // closed since the listing
      }
    });
  await withStore('sqlite', async (s) => {
    assert.equal(Number((await sql<{ temp_store: number }>`pragma temp_store`.execute(s.db)).rows[0]?.temp_store), 2, 'temp_store = MEMORY');
    const blob = 'x'.repeat(3000);
    await s.transaction(async (tx) => {
      for (let k = 0; k < 400; k++) await tx.insertInto('teams').values({ id: `t${k}`, name: `${k}${blob}`, created_at: 'now' }).execute();
    });
    const seen: string[] = [];
    // Ten transactions queued together share one commit, each in its own savepoint, each changing
    // 40 existing pages (a savepoint journals the pages it changes, not the ones it adds): far past
    // the 64 KiB at which a journal would spill.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.transaction(async (tx) => {
          for (let k = 0; k < 40; k++) await tx.updateTable('teams').set({ name: `${i}-${k}${blob}` }).where('id', '=', `t${i * 40 + k}`).execute();
          seen.push(...tempFiles());
        }),
      ),
    );
    assert.deepEqual(seen, []);
    const names = await s.db.selectFrom('teams').select('name').execute();
    assert.equal(names.filter((r) => /^\d+-\d+x/.test(r.name)).length, 400, 'every change committed');
  });
});
