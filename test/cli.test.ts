// The `strata` command end to end: a real server process with an embedded SQLite database, and the
// CLI as a user runs it (the README's tour), including offline audit verification catching a
// tampered database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import Database from 'better-sqlite3';

const BIN = join(import.meta.dirname, '..', 'bin', 'strata.js');
let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;
let server: ChildProcess;
let url: string;
let banner = '';

async function startServer(): Promise<void> {
  server = spawn(process.execPath, [BIN, 'server', '--port', '0', '--log-level', 'warn'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  banner = '';
  server.stdout?.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${banner}`)), 20000);
    server.stdout?.on('data', (d: string) => {
      banner += d;
      const m = /listening on (http:\/\/\S+)/.exec(banner);
      if (m?.[1] !== undefined && /agent: .*ready\n/.test(banner)) {
        clearTimeout(timer);
        url = m[1];
        env['STRATA_SERVER'] = url;
        resolve();
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${String(code)}: ${banner}`)));
  });
}

async function stopServer(): Promise<void> {
  server.removeAllListeners('exit');
  server.kill('SIGTERM');
  await once(server, 'exit');
}

function strata(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', input: '' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
  home = join(dir, 'home');
  env = { ...process.env, STRATA_HOME: home, STRATA_CONFIG: join(dir, 'config', 'config.json') };
  delete env['STRATA_TOKEN'];
  delete env['STRATA_DATABASE_URL'];
  await startServer();
});
after(async () => {
  await stopServer().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('first start prints the admin token once and stores it with mode 0600', () => {
  const m = /\n\s+(strata_[A-Za-z0-9_-]{43})\n/.exec(banner);
  assert.ok(m, banner);
  const file = join(home, 'admin.token');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, 'utf8').trim(), m[1]);
  assert.equal(statSync(join(home, 'master.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'audit-signing.key')).mode & 0o777, 0o600);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds to loopback by default');
});

test('the tour: whoami, projects, teams, users, tokens, secrets — tables and --json', () => {
  const who = strata('whoami');
  assert.equal(who.code, 0, who.err);
  assert.match(who.out, /^admin \(user, platform admin\)/);
  assert.equal(strata('projects', 'create', 'vision', '--team', 'default').code, 0);
  const list = strata('projects', 'list');
  assert.match(list.out, /^NAME\s+TEAM\s+ID\s+CREATEDAT$/m);
  assert.match(list.out, /^vision\s+default\s+prj_/m);
  const json = JSON.parse(strata('projects', 'list', '--json').out) as { projects: { name: string }[] };
  assert.deepEqual(json.projects.map((p) => p.name), ['default', 'vision']);

  assert.equal(strata('users', 'create', 'ada').code, 0);
  assert.equal(strata('projects', 'grant', 'vision', 'ada', 'editor').code, 0);
  const tok = strata('tokens', 'create', 'laptop', '--for', 'ada', '--expires', '30d');
  assert.equal(tok.code, 0, tok.err);
  const adaToken = /(strata_[A-Za-z0-9_-]{43})/.exec(tok.out)?.[1];
  assert.ok(adaToken);

  // ada logs in with a context; the CLI then uses it without flags.
  const login = strata('login', '--server', url, '--token', adaToken, '--name', 'ada');
  assert.equal(login.code, 0, login.err);
  assert.equal(statSync(env['STRATA_CONFIG'] as string).mode & 0o777, 0o600);
  assert.match(strata('whoami').out, /^ada \(user\)/);
  assert.match(strata('context', 'list').out, /\*\s+ada/);
  const secretFile = join(dir, 'pw.txt');
  writeFileSync(secretFile, 'correct horse battery staple');
  assert.equal(strata('secrets', 'set', 'db-password', '-p', 'vision', '--from-file', secretFile).code, 0);
  assert.equal(strata('secrets', 'get', 'db-password', '-p', 'vision').out, 'correct horse battery staple\n');
  const cas = strata('secrets', 'set', 'db-password', '-p', 'vision', '--value', 'x', '--expect-version', '0');
  assert.equal(cas.code, 1);
  assert.match(cas.err, /^strata: secret 'db-password' is at version 1, not 0/);
  assert.equal(cas.err.trim().split('\n').length, 1, 'errors are one line');
  // ada cannot see the audit log or other projects' secrets.
  const denied = strata('audit', 'events');
  assert.equal(denied.code, 1);
  assert.match(denied.err, /platform administrator/);
  const hidden = strata('secrets', 'list', '-p', 'default');
  assert.equal(hidden.code, 1);
  assert.match(hidden.err, /not found/);
  // Back to the admin (the local admin.token) by dropping the context.
  writeFileSync(env['STRATA_CONFIG'] as string, '{"contexts":{}}\n');
  assert.match(strata('whoami').out, /^admin/);
});

test('errors: unknown server, bad flags, missing things', () => {
  const down = spawnSync(process.execPath, [BIN, 'whoami', '--server', 'http://127.0.0.1:9'], { env, encoding: 'utf8' });
  assert.equal(down.status, 3);
  assert.match(down.stderr, /cannot reach the Strata server/);
  const bad = strata('tokens', 'create', 'x', '--expires', 'soon');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /invalid duration 'soon'/);
  const usage = strata('projects', 'create', 'x');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--team/);
});

test('audit verify: passes, pins its anchor, then catches a tampered database after a restart', async () => {
  const ok = strata('audit', 'verify');
  assert.equal(ok.code, 0, ok.err + ok.out);
  assert.match(ok.out, /^audit log verified: \d+ entries/);
  assert.equal(strata('audit', 'checkpoint').code, 0);
  const ok2 = strata('audit', 'verify');
  assert.equal(ok2.code, 0, ok2.err);

  // Offline: export, then verify the file with only the public key and a checkpoint.
  const exportFile = join(dir, 'events.jsonl');
  assert.equal(strata('audit', 'export', '--out', exportFile).code, 0);
  const cpFiles = spawnSync('ls', [join(home, 'checkpoints')], { encoding: 'utf8' }).stdout.trim().split('\n');
  const cp = join(home, 'checkpoints', cpFiles.at(-1) as string);
  const pub = join(home, 'audit-signing.pub');
  const off = strata('audit', 'verify', '--events', exportFile, '--checkpoint', cp, '--public-key', pub, '--no-save');
  assert.equal(off.code, 0, off.err);
  const lines = readFileSync(exportFile, 'utf8').trim().split('\n');
  const original = [...lines];
  // Each line: the entry's canonical JSON, a tab, its leaf hash.
  const [canonical, hash] = (lines[3] as string).split('\t');
  assert.match(hash ?? '', /^[0-9a-f]{64}$/);
  const e3 = JSON.parse(canonical as string) as { actor: string };
  e3.actor = 'pr_someone_else';
  lines[3] = `${JSON.stringify(e3)}\t${hash ?? ''}`;
  writeFileSync(exportFile, `${lines.join('\n')}\n`);
  const offBad = strata('audit', 'verify', '--events', exportFile, '--checkpoint', cp, '--public-key', pub, '--no-save');
  assert.equal(offBad.code, 1);
  assert.match(offBad.err, /entry 3: stored leaf hash does not match its content/);
  writeFileSync(exportFile, `${[...original.slice(0, 2), ...original.slice(3)].join('\n')}\n`);
  const deleted = strata('audit', 'verify', '--events', exportFile, '--checkpoint', cp, '--public-key', pub, '--no-save');
  assert.equal(deleted.code, 1);
  assert.match(deleted.err, /entry 2 missing: sequence jumps from 1 to 3/);
  writeFileSync(exportFile, `${original.slice(0, 5).join('\n')}\n`);
  const truncated = strata('audit', 'verify', '--events', exportFile, '--checkpoint', cp, '--public-key', pub, '--no-save');
  assert.equal(truncated.code, 1);
  assert.match(truncated.err, /truncated/);

  // A database superuser rewrites history while the server is down...
  await stopServer();
  const db = new Database(join(home, 'strata.db'));
  db.exec('DROP TRIGGER audit_events_no_update');
  db.prepare("UPDATE audit_events SET details = '{\"name\":\"innocent\"}' WHERE seq = 4").run();
  db.close();
  await startServer();
  const bad = strata('audit', 'verify');
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.err, /FAILED: entry 4: stored leaf hash does not match its content/);
  assert.doesNotMatch(banner, /Admin token/, 'the second start does not print a token');
});

test('experiments, runs and artifacts from the CLI: search with a filter, streamed upload and download', async () => {
  const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
  const call = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-strata-project': 'default' }, body: JSON.stringify(body) });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as Record<string, unknown>;
  };
  const created = await call('/api/2.0/mlflow/runs/create', { experiment_id: '0', run_name: 'cli-run' });
  const run = String(((created['run'] as Record<string, unknown>)['info'] as Record<string, unknown>)['run_id']);
  await call('/api/2.0/mlflow/runs/log-batch', { run_id: run, metrics: [{ key: 'acc', value: 0.97, timestamp: 1, step: 1 }], params: [{ key: 'lr', value: '0.01' }] });
  const list = strata('runs', 'list', '-e', '0', '--filter', 'metrics.acc > 0.9', '--json');
  assert.equal(list.code, 0, list.err);
  assert.ok((JSON.parse(list.out) as { runs: { id: string }[] }).runs.some((r) => r.id === run));
  const got = strata('runs', 'get', run);
  assert.equal(got.code, 0, got.err);
  assert.match(got.out, /acc\s+0\.97/);
  assert.match(got.out, /lr\s+0\.01/);
  const file = join(dir, 'weights.bin');
  const bytes = Buffer.alloc(3 * 2 ** 20 + 17, 7);
  writeFileSync(file, bytes);
  const up = strata('artifacts', 'upload', run, file, '--path', 'model/weights.bin');
  assert.equal(up.code, 0, up.err);
  assert.match(up.out, /sha256:[0-9a-f]{64}/);
  const ls = strata('artifacts', 'list', run, 'model');
  assert.match(ls.out, /model\/weights\.bin\s+file\s+3145745/);
  const back = join(dir, 'back.bin');
  const down = strata('artifacts', 'download', run, 'model/weights.bin', '-o', back);
  assert.equal(down.code, 0, down.err);
  assert.ok(readFileSync(back).equals(bytes));
  const missing = strata('artifacts', 'download', run, 'model/nope.bin');
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /not found|No such|nope/i);
});
