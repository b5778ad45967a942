// The HTTP API through its public surface (Fastify inject), on SQLite and PostgreSQL: the route
// authorisation guard, the tenant matrix, bad input (research §2.3), tokens, escalation, secrets
// and the audit trail each of them leaves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { ManualClock } from '../src/kernel/index.ts';
import { audit as auditCore } from '../src/access/index.ts';

type Json = Record<string, unknown>;
// The MLflow multipart part URLs are presigned (the client sends no token): their HMAC signature authorises them.
const PUBLIC_ROUTES = ['GET /healthz', 'GET /metrics', 'GET /openapi.json', 'PUT /api/2.0/mlflow-artifacts/mpu/parts/:uploadId/:partNumber', 'PUT /ajax-api/2.0/mlflow-artifacts/mpu/parts/:uploadId/:partNumber'];
/** Written as a secret value before every other test; must never leak (research §3, redaction). */
const SUITE_CANARY = 'SUITE-CANARY-3b1d0f9e';

async function auditSize(tp: TestPlatform): Promise<number> {
  return tp.platform.audit.size();
}

for (const kind of databaseKinds) {
  describe(`API on ${kind}`, () => {
    let tp: TestPlatform;
    let alice: string; // editor on project a1
    let bob: string; // viewer on project a1
    let carol: string; // admin of team b (project b1)
    let mallory: string; // no roles anywhere

    before(async () => {
      tp = await startTestPlatform(kind);
      for (const [m, u, b] of [
        ['POST', '/api/v1/teams', { name: 'team-a' }],
        ['POST', '/api/v1/teams', { name: 'team-b' }],
        ['POST', '/api/v1/projects', { name: 'a1', team: 'team-a' }],
        ['POST', '/api/v1/projects', { name: 'b1', team: 'team-b' }],
      ] as const) {
        const r = await tp.call(m, u, { body: b });
        assert.equal(r.status, 201, r.text);
      }
      alice = await tp.user('alice');
      bob = await tp.user('bob');
      carol = await tp.user('carol');
      mallory = await tp.user('mallory');
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/members/alice', { body: { role: 'editor' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/members/bob', { body: { role: 'viewer' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/teams/team-b/members/carol', { body: { role: 'admin' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/secrets/db-password', { body: { value: 'pw-a1' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/projects/b1/secrets/db-password', { body: { value: 'pw-b1' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/secrets/suite-canary', { body: { value: SUITE_CANARY } })).status, 200);
    });
    after(async () => {
      // The whole suite ran with a canary secret stored: no log line and no response may contain it
      // (nobody revealed it), and neither may any token secret appear in a log line.
      try {
        assert.deepEqual(tp.logs.filter((l) => l.includes(SUITE_CANARY)), []);
        assert.deepEqual(tp.responses.filter((r) => r.text.includes(SUITE_CANARY)).map((r) => `${r.method} ${r.url}`), []);
        for (const t of [tp.adminToken, alice, bob, carol, mallory]) assert.ok(!tp.logs.some((l) => l.includes(t)), 'a token appeared in the logs');
      } finally {
        await tp.close();
      }
    });

    test('every registered route has an authorisation decision; only the known public ones are public', async () => {
      const routes = tp.platform.app.registered;
      assert.ok(routes.length > 20);
      for (const r of routes) assert.ok(r.authz.length > 0, `${r.method} ${r.url}`);
      const pub = routes.filter((r) => r.authz === 'public' && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`).sort();
      assert.deepEqual(pub, [...PUBLIC_ROUTES].sort());
      // Without a token every other route answers 401 — before any lookup or side effect.
      const before = await auditSize(tp);
      for (const r of routes) {
        if (r.authz === 'public' || r.method === 'HEAD') continue;
        const url = r.url.replace(/:[a-z]+/gi, (p) => (p === ':id' ? 'tok_abc' : 'a1'));
        const res = await tp.call(r.method, url, { token: null, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: {} }) });
        assert.equal(res.status, 401, `${r.method} ${url} without a token answered ${res.status}: ${res.text}`);
        assert.equal((res.body as { error: { code: string } }).error.code, 'unauthenticated');
      }
      assert.equal(await auditSize(tp), before, 'unauthenticated calls write nothing');
    });

    test('tenant matrix: owner, reader, other tenant, stranger on project routes', async () => {
      const cases: [string, string, unknown, Record<string, number>][] = [
        ['GET', '/api/v1/projects/a1', undefined, { alice: 200, bob: 200, carol: 404, mallory: 404 }],
        ['GET', '/api/v1/projects/a1/members', undefined, { alice: 200, bob: 200, carol: 404, mallory: 404 }],
        ['GET', '/api/v1/projects/a1/secrets', undefined, { alice: 200, bob: 200, carol: 404, mallory: 404 }],
        ['GET', '/api/v1/projects/a1/secrets/db-password/value', undefined, { alice: 200, bob: 403, carol: 404, mallory: 404 }],
        ['PUT', '/api/v1/projects/a1/secrets/new-one', { value: 'x' }, { alice: 200, bob: 403, carol: 404, mallory: 404 }],
        ['DELETE', '/api/v1/projects/a1/secrets/new-one', undefined, { alice: 403, bob: 403, carol: 404, mallory: 404 }],
        ['PUT', '/api/v1/projects/a1/members/mallory', { role: 'viewer' }, { alice: 403, bob: 403, carol: 404, mallory: 404 }],
        ['GET', '/api/v1/projects/b1/secrets/db-password/value', undefined, { alice: 404, bob: 404, carol: 200, mallory: 404 }],
        ['POST', '/api/v1/projects', { name: 'b2', team: 'team-b' }, { alice: 404, bob: 404, carol: 201, mallory: 404 }],
        ['GET', '/api/v1/teams/team-b', undefined, { alice: 404, bob: 404, carol: 200, mallory: 404 }],
        ['POST', '/api/v1/teams', { name: 'team-x' }, { alice: 403, bob: 403, carol: 403, mallory: 403 }],
        ['GET', '/api/v1/audit/events', undefined, { alice: 403, bob: 403, carol: 403, mallory: 403 }],
        ['GET', '/api/v1/principals', undefined, { alice: 403, bob: 403, carol: 403, mallory: 403 }],
        ['POST', '/api/v1/secrets/keys/rotate', undefined, { alice: 403, bob: 403, carol: 403, mallory: 403 }],
      ];
      const tokens: Record<string, string> = { alice, bob, carol, mallory };
      for (const [method, url, body, expect] of cases) {
        for (const [who, status] of Object.entries(expect)) {
          const r = await tp.call(method, url, { token: tokens[who] ?? null, ...(body === undefined ? {} : { body }) });
          assert.equal(r.status, status, `${who} ${method} ${url}: ${r.text}`);
          if (status === 404) {
            // A hidden project reads exactly like a missing one.
            assert.match((r.body as { error: { message: string } }).error.message, /not found/);
          }
        }
      }
      // Another tenant's secret value never appears in any of those answers.
      const r = await tp.call('GET', '/api/v1/projects/b1/secrets/db-password/value', { token: alice });
      assert.ok(!r.text.includes('pw-b1'));
    });

    test('listings show only what the caller may see', async () => {
      const names = async (token: string): Promise<string[]> =>
        ((await tp.call('GET', '/api/v1/projects', { token })).body as { projects: Json[] }).projects.map((p) => String(p['name']));
      assert.deepEqual(await names(mallory), []);
      assert.deepEqual(await names(alice), ['a1']);
      assert.ok((await names(carol)).every((n) => n.startsWith('b')));
      const teams = ((await tp.call('GET', '/api/v1/teams', { token: alice })).body as { teams: Json[] }).teams.map((t) => t['name']);
      assert.deepEqual(teams, ['team-a']);
      const filtered = await tp.call('GET', '/api/v1/projects?team=team-b', { token: alice });
      assert.equal(filtered.status, 404, 'filtering by a team you cannot see reads as not found');
    });

    test('denied mutating calls are audited as denied; nothing else is written', async () => {
      const before = await auditSize(tp);
      const r = await tp.call('PUT', '/api/v1/projects/a1/secrets/db-password', { token: bob, body: { value: 'hacked' } });
      assert.equal(r.status, 403);
      assert.equal(await auditSize(tp), before + 1);
      const ev = (await tp.call('GET', `/api/v1/audit/events?from=${before}`)).body as { events: Json[] };
      assert.equal(ev.events[0]?.['outcome'], 'denied');
      assert.equal(ev.events[0]?.['action'], 'secret.write');
      const v = await tp.call('GET', '/api/v1/projects/a1/secrets/db-password/value', { token: alice });
      assert.equal((v.body as Json)['value'], 'pw-a1');
    });

    test('escalation: nobody grants above their own role', async () => {
      // Make alice admin of a1, then she may grant admin there, but not anywhere else.
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/members/alice', { body: { role: 'admin' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/members/mallory', { token: alice, body: { role: 'editor' } })).status, 200);
      assert.equal((await tp.call('PUT', '/api/v1/projects/b1/members/mallory', { token: alice, body: { role: 'viewer' } })).status, 404);
      assert.equal((await tp.call('PUT', '/api/v1/teams/team-a/members/mallory', { token: alice, body: { role: 'viewer' } })).status, 404);
      // An editor cannot grant anything (member management needs admin).
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/members/bob', { token: mallory, body: { role: 'admin' } })).status, 403);
      // Only platform admins create users, and so platform admins.
      assert.equal((await tp.call('POST', '/api/v1/users', { token: alice, body: { name: 'eve', platformAdmin: true } })).status, 403);
      assert.equal((await tp.call('POST', '/api/v1/tokens', { token: alice, body: { name: 'steal', principal: 'admin' } })).status, 404);
      // Unknown roles are a 400 that lists the valid ones.
      const bad = await tp.call('PUT', '/api/v1/projects/a1/members/bob', { token: alice, body: { role: 'owner' } });
      assert.equal(bad.status, 400);
      // Clean up: back to the original roles.
      assert.equal((await tp.call('DELETE', '/api/v1/projects/a1/members/mallory', { token: alice })).status, 204);
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/members/alice', { body: { role: 'editor' } })).status, 200);
    });

    test('bad input: a clear 4xx, nothing written, audit log consistent', async () => {
      const traversal = ['../', '..\\', '....//', '..%2f', '%2e%2e%2f', '%2e%2e/', '%252e%252e%252f', '..%c0%af', '．．／', '%00', './../x', '/etc/passwd', '//proc/self/root/etc/passwd', 'C:\\Windows\\win.ini', '\\\\host\\share\\x', 'UPPER', 'a b', '', 'x'.repeat(64)];
      const before = await auditSize(tp);
      for (const name of traversal) {
        const r = await tp.call('POST', '/api/v1/projects', { body: { name, team: 'team-a' } });
        assert.equal(r.status, 400, `project name ${JSON.stringify(name)}: ${r.text}`);
        assert.match((r.body as { error: { message: string } }).error.message, /name|must/);
        const p = await tp.call('GET', `/api/v1/projects/${encodeURIComponent(name)}`);
        assert.ok([400, 404].includes(p.status), `GET project ${JSON.stringify(name)} → ${p.status}`);
        const s = await tp.call('PUT', `/api/v1/projects/a1/secrets/${encodeURIComponent(name)}`, { body: { value: 'v' } });
        assert.ok([400, 404].includes(s.status), `secret ${JSON.stringify(name)} → ${s.status}`);
      }
      // Look-alikes that are valid names still work.
      for (const ok of ['foo..bar'.replace('..', '.-'), 'v1.2.3', 'a_b-c']) {
        assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: ok, team: 'team-a' } })).status, 201, ok);
      }
      const afterGood = await auditSize(tp);
      assert.equal(afterGood, before + 3, 'only the three valid creations were audited');

      const bodies: [string, number, RegExp][] = [
        ['{"name":"x","team":"team-a","__proto__":{"admin":true}}', 400, /__proto__/],
        ['{"name":"x","team":"team-a","constructor":{"prototype":{"admin":true}}}', 400, /constructor/],
        ['{"name":', 400, /not valid JSON/],
        ['', 400, /empty/],
        [`${'['.repeat(10000)}${']'.repeat(10000)}`, 400, /must be object/],
        [`{"a":${'{"a":'.repeat(10000)}1${'}'.repeat(10001)}`, 400, /unknown field|must/],
        [JSON.stringify({ name: 'x', team: 'team-a', extra: 1 }), 400, /unknown field 'extra'/],
        [JSON.stringify({ name: 'x', team: 'team-a', pad: 'y'.repeat(2 * 1024 * 1024) }), 413, /limit/],
        [JSON.stringify(Array.from({ length: 100000 }, (_, i) => i)), 400, /must be object/],
        // Bodies are never type-coerced (a number is not a name, "true" is not a boolean).
        [JSON.stringify({ name: 12345, team: 'team-a' }), 400, /must be string/],
      ];
      for (const [raw, status, re] of bodies) {
        const r = await tp.call('POST', '/api/v1/projects', { raw });
        assert.equal(r.status, status, `${raw.slice(0, 60)}: ${r.text.slice(0, 200)}`);
        const err = (r.body as { error: { code: string; message: string } }).error;
        assert.match(err.message, re);
      }
      const coerced = await tp.call('POST', '/api/v1/users', { body: { name: 'coerce-me', platformAdmin: 'true' } });
      assert.equal(coerced.status, 400, 'a string is not a boolean');
      const cas = await tp.call('PUT', '/api/v1/projects/a1/secrets/db-password', { body: { value: 'x', expectedVersion: '0' } });
      assert.equal(cas.status, 400, 'a string is not a version number');
      // Odd route spellings are plain JSON 404s, never a bypass.
      for (const url of ['/api//v1/projects', '/API/v1/projects', '/api/v1/projects;x', '/api/v1/projects/', '/api/v1/projects%2Fa1', '/api/v1/x/evil/../projects']) {
        const r = await tp.call('GET', url, { token: mallory });
        assert.ok([400, 404].includes(r.status), `${url} → ${r.status}`);
        assert.ok((r.body as { error?: unknown }).error !== undefined, `${url} answers the error shape`);
      }
      // Numbers out of range in queries.
      for (const q of ['index=-1&size=2', 'index=0&size=1e999', 'index=2&size=1', 'index=a&size=1', `index=0&size=${afterGood + 10}`]) {
        const r = await tp.call('GET', `/api/v1/audit/proof/inclusion?${q}`);
        assert.equal(r.status, 400, `${q}: ${r.text}`);
      }
      for (const q of ['from=0&to=0', 'from=-1&to=0', 'from=5&to=2', `from=1&to=${afterGood + 10}`]) {
        const r = await tp.call('GET', `/api/v1/audit/proof/consistency?${q}`);
        assert.equal(r.status, 400, `${q}: ${r.text}`);
      }
      assert.equal(await auditSize(tp), afterGood, 'none of the refused requests wrote an audit entry');
      const cp = await tp.platform.audit.checkpoint();
      assert.equal(cp.size, afterGood);
    });

    test('tokens: malformed, unknown, revoked and expired tokens are refused with what to do', async () => {
      const cases: [string, RegExp][] = [
        ['not-a-token', /malformed/],
        [`strata_${'A'.repeat(43)}`, /not valid/],
      ];
      for (const [tok, re] of cases) {
        const r = await tp.call('GET', '/api/v1/whoami', { token: tok });
        assert.equal(r.status, 401);
        assert.match((r.body as { error: { message: string } }).error.message, re);
      }
      const r0 = await tp.call('GET', '/api/v1/whoami', { headers: { authorization: 'Basic YWRtaW46cGFzc3dvcmQ=' }, token: null });
      assert.equal(r0.status, 401);
      // Revocation takes effect at once.
      const t = await tp.call('POST', '/api/v1/tokens', { token: bob, body: { name: 'short' } });
      assert.equal(t.status, 201);
      const { token, id } = t.body as { token: string; id: string };
      assert.equal((await tp.call('GET', '/api/v1/whoami', { token })).status, 200);
      assert.equal((await tp.call('DELETE', `/api/v1/tokens/${id}`, { token: alice })).status, 404, "alice cannot revoke bob's token");
      assert.equal((await tp.call('DELETE', `/api/v1/tokens/${id}`, { token: bob })).status, 200);
      const after = await tp.call('GET', '/api/v1/whoami', { token });
      assert.equal(after.status, 401);
      assert.match((after.body as { error: { message: string } }).error.message, /revoked/);
      // Listing shows prefixes, never secrets or hashes.
      const list = await tp.call('GET', '/api/v1/tokens', { token: bob });
      assert.ok(!list.text.includes(token));
      assert.ok(!list.text.includes('hash'));
    });

    test('secrets: check-and-set lets exactly one of many concurrent writers win', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => tp.call('PUT', '/api/v1/projects/a1/secrets/race', { token: alice, body: { value: `v${i}`, expectedVersion: 0 } })),
      );
      assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
      assert.ok(results.every((r) => r.status === 200 || r.status === 409));
      const d = await tp.call('GET', '/api/v1/projects/a1/secrets/race');
      assert.equal((d.body as Json)['currentVersion'], 1);
      // Versions and destroy.
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/secrets/race', { body: { value: 'second', expectedVersion: 1 } })).status, 200);
      assert.equal(((await tp.call('GET', '/api/v1/projects/a1/secrets/race/value?version=2')).body as Json)['value'], 'second');
      assert.equal((await tp.call('DELETE', '/api/v1/projects/a1/secrets/race')).status, 200);
      const gone = await tp.call('GET', '/api/v1/projects/a1/secrets/race/value');
      assert.equal(gone.status, 404);
      assert.match(gone.text, /destroyed/);
    });

    test('secrets: master-key rotation and rewrap keep every value readable, then retire the old key', async () => {
      assert.equal((await tp.call('PUT', '/api/v1/projects/a1/secrets/rot', { body: { value: 'before-rotation' } })).status, 200);
      const rot = await tp.call('POST', '/api/v1/secrets/keys/rotate');
      assert.equal(rot.status, 200, rot.text);
      const newVersion = (rot.body as Json)['keyVersion'] as number;
      assert.ok(newVersion >= 2);
      assert.equal(((await tp.call('GET', '/api/v1/projects/a1/secrets/rot/value')).body as Json)['value'], 'before-rotation');
      const rw = await tp.call('POST', '/api/v1/secrets/keys/rewrap', { body: { retireOld: true } });
      assert.equal(rw.status, 200, rw.text);
      assert.ok(((rw.body as Json)['rewrapped'] as number) >= 1);
      assert.equal((rw.body as Json)['minDecryptionVersion'], newVersion);
      assert.equal(((await tp.call('GET', '/api/v1/projects/a1/secrets/rot/value')).body as Json)['value'], 'before-rotation');
      assert.equal(((await tp.call('GET', '/api/v1/projects/a1/secrets/db-password/value')).body as Json)['value'], 'pw-a1');
      const rows = await tp.platform.store.db.selectFrom('secrets').select('kek_version').where('destroyed_at', 'is', null).execute();
      assert.ok(rows.every((r) => r.kek_version === newVersion));
    });

    test('a canary secret never appears in logs, audit entries or error bodies', async () => {
      const canary = 'CANARY-7f3a9c1e-do-not-leak';
      const w = await tp.call('PUT', '/api/v1/projects/a1/secrets/canary', { token: alice, body: { value: canary } });
      assert.equal(w.status, 200);
      assert.ok(!w.text.includes(canary));
      const bad = [
        await tp.call('PUT', '/api/v1/projects/a1/secrets/canary', { token: alice, body: { value: canary, expectedVersion: 0 } }),
        await tp.call('PUT', '/api/v1/projects/a1/secrets/canary', { token: bob, body: { value: canary } }),
        await tp.call('PUT', '/api/v1/projects/a1/secrets/canary', { token: alice, body: { value: canary, extra: canary } }),
        await tp.call('PUT', '/api/v1/projects/a1/secrets/canary', { token: alice, body: { value: canary + 'x'.repeat(70000) } }),
        await tp.call('PUT', '/api/v1/projects/b1/secrets/canary', { token: alice, body: { value: canary } }),
      ];
      for (const r of bad) {
        assert.ok(r.status >= 400);
        assert.ok(!r.text.includes(canary), `error body leaked the canary: ${r.text.slice(0, 200)}`);
      }
      const reveal = await tp.call('GET', '/api/v1/projects/a1/secrets/canary/value', { token: alice });
      assert.equal((reveal.body as Json)['value'], canary, 'the one place it may appear: an authorised reveal');
      const events = await tp.call('GET', '/api/v1/audit/events?limit=10000');
      assert.ok(!events.text.includes(canary), 'audit entries must not contain secret values');
      const leaked = tp.logs.filter((l) => l.includes(canary));
      assert.deepEqual(leaked, [], 'log lines must not contain secret values');
      assert.ok(tp.logs.length > 0, 'the server did log');
      const rows = await tp.platform.store.db.selectFrom('secrets').selectAll().execute();
      assert.ok(rows.every((r) => !(r.ciphertext ?? '').includes(canary) && !JSON.stringify(r).includes(canary)), 'stored encrypted');
    });

    test('every audit entry has a valid inclusion proof, and checkpoints are mutually consistent', async () => {
      const c1 = await tp.platform.audit.checkpoint();
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'later', team: 'team-a' } })).status, 201);
      const c2 = (await tp.call('POST', '/api/v1/audit/checkpoints')).body as { size: number; root: string };
      assert.equal(c2.size, c1.size + 1);
      const cons = (await tp.call('GET', `/api/v1/audit/proof/consistency?from=${c1.size}&to=${c2.size}`)).body as { proof: string[] };
      assert.ok(auditCore.verifyConsistency(c1.size, c2.size, Buffer.from(c1.root, 'hex'), Buffer.from(c2.root, 'hex'), cons.proof.map((h) => Buffer.from(h, 'hex'))));
      const events = ((await tp.call('GET', '/api/v1/audit/events?limit=10000')).body as { events: (auditCore.StoredAuditEntry & Json)[] }).events;
      assert.equal(events.length, c2.size);
      for (const e of events) {
        assert.equal(auditCore.entryLeafHashHex(e), e.leafHash, `entry ${e.seq} hash`);
        const p = (await tp.call('GET', `/api/v1/audit/proof/inclusion?index=${e.seq}&size=${c2.size}`)).body as { proof: string[]; root: string };
        assert.equal(p.root, c2.root);
        assert.ok(auditCore.verifyInclusion(Buffer.from(e.leafHash, 'hex'), e.seq, c2.size, p.proof.map((h) => Buffer.from(h, 'hex')), Buffer.from(c2.root, 'hex')), `inclusion of ${e.seq}`);
      }
      const pub = await auditCore.loadPublicKey(((await tp.call('GET', '/api/v1/audit/public-key')).body as { publicKey: string }).publicKey);
      const result = await auditCore.verifyAuditLog({ entries: events, checkpoint: c1, latest: c2 as auditCore.SignedCheckpoint, publicKey: pub });
      assert.equal(result.ok, true, JSON.stringify(result));
    });

    test('health, metrics, OpenAPI and request ids', async () => {
      const h = await tp.call('GET', '/healthz', { token: null });
      assert.equal(h.status, 200);
      assert.match(String(h.headers['x-request-id']), /^req_/);
      const m = await tp.call('GET', '/metrics', { token: null });
      assert.match(m.text, /strata_http_requests_total\{method="GET",route="\/api\/v1\/projects\/:project",status="200"\}/);
      assert.match(m.text, /strata_http_request_duration_seconds_bucket/);
      assert.match(m.text, /strata_process_cpu_user_seconds_total/);
      const o = await tp.call('GET', '/openapi.json', { token: null });
      const doc = o.body as { openapi: string; paths: Record<string, unknown> };
      assert.equal(doc.openapi, '3.0.3');
      assert.ok(doc.paths['/api/v1/projects/{project}/secrets/{name}'] !== undefined);
      const nf = await tp.call('GET', '/nope', { token: null });
      assert.equal(nf.status, 404);
      assert.equal((nf.body as { error: { code: string } }).error.code, 'not_found');
      assert.ok(tp.logs.some((l) => l.includes('"reqId":"req_')), 'request ids appear in the logs');
    });
  });
}

test('expired tokens are refused (virtual clock)', async () => {
  const clock = new ManualClock(Date.parse('2026-06-01T00:00:00Z'));
  const tp = await startTestPlatform('sqlite', { clock });
  try {
    const t = await tp.call('POST', '/api/v1/tokens', { body: { name: 'brief', expiresInSeconds: 3600 } });
    assert.equal(t.status, 201);
    const { token } = t.body as { token: string };
    assert.equal((await tp.call('GET', '/api/v1/whoami', { token })).status, 200);
    clock.advance(3600 * 1000 + 1);
    const r = await tp.call('GET', '/api/v1/whoami', { token });
    assert.equal(r.status, 401);
    assert.match((r.body as { error: { message: string } }).error.message, /expired/);
    const listed = (await tp.call('GET', '/api/v1/tokens')).body as { tokens: { name: string; lastUsedAt: string | null }[] };
    assert.ok(listed.tokens.find((x) => x.name === 'brief')?.lastUsedAt !== null, 'last-used time is recorded');
  } finally {
    await tp.close();
  }
});
