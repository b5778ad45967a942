// An in-process platform on a fresh database, with helpers to call the API as different principals.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Platform } from '../../src/api/platform.ts';
import { createPlatform } from '../../src/api/platform.ts';
import type { Clock } from '../../src/kernel/index.ts';
import { freshDatabase } from './databases.ts';

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Record<string, unknown>;
}

export interface TestPlatform {
  readonly platform: Platform;
  readonly adminToken: string;
  /** Every log line the server wrote (for redaction checks). */
  readonly logs: string[];
  /** Every response: method, url and body text (for redaction checks). */
  readonly responses: { readonly method: string; readonly url: string; readonly text: string }[];
  call(method: string, url: string, opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<Reply>;
  /** Creates a user and returns a token for it. */
  user(name: string): Promise<string>;
  /** Creates a service account with `role` in `project` and returns a token for it. */
  serviceAccount(name: string, project: string, role: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestPlatform(kind: 'sqlite' | 'postgres', opts: { clock?: Clock; leaseSeconds?: number; computeConfigPath?: string } = {}): Promise<TestPlatform> {
  const db = await freshDatabase(kind);
  const home = mkdtempSync(join(tmpdir(), 'strata-home-'));
  const logs: string[] = [];
  const responses: { method: string; url: string; text: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino(
    { level: 'debug', redact: { paths: ['req.headers.authorization', '*.value', '*.token'], censor: '[redacted]' } },
    sink,
  );
  const platform = await createPlatform({
    home,
    ...(kind === 'postgres' ? { databaseUrl: db.url } : {}),
    logger,
    env: { STRATA_MASTER_KEY_FILE: undefined, STRATA_MASTER_KEY: undefined },
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.leaseSeconds === undefined ? {} : { leaseSeconds: opts.leaseSeconds }),
    ...(opts.computeConfigPath === undefined ? {} : { computeConfigPath: opts.computeConfigPath }),
  });
  const adminToken = platform.bootstrapToken;
  if (adminToken === null) throw new Error('expected a bootstrap token on a fresh database');

  const call: TestPlatform['call'] = async (method, url, o = {}) => {
    const token = o.token === undefined ? adminToken : o.token;
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    let payload: string | undefined;
    if (o.raw !== undefined) payload = o.raw;
    else if (o.body !== undefined) payload = JSON.stringify(o.body);
    if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const r = await platform.app.fastify.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
    responses.push({ method, url, text: r.body });
    let body: unknown = r.body;
    try {
      body = r.body === '' ? undefined : JSON.parse(r.body);
    } catch {
      // text body
    }
    return { status: r.statusCode, body, text: r.body, headers: r.headers };
  };

  return {
    platform,
    adminToken,
    logs,
    responses,
    call,
    async user(name) {
      const c = await call('POST', '/api/v1/users', { body: { name } });
      if (c.status !== 201) throw new Error(`creating user ${name}: ${c.text}`);
      const t = await call('POST', '/api/v1/tokens', { body: { name: `t-${randomBytes(3).toString('hex')}`, principal: name } });
      if (t.status !== 201) throw new Error(`token for ${name}: ${t.text}`);
      return (t.body as { token: string }).token;
    },
    async serviceAccount(name, project, role) {
      const sa = await call('POST', '/api/v1/service-accounts', { body: { name } });
      if (sa.status !== 201) throw new Error(`creating service account ${name}: ${sa.text}`);
      const m = await call('PUT', `/api/v1/projects/${project}/members/${name}`, { body: { role } });
      if (m.status !== 200) throw new Error(`making ${name} ${role} of ${project}: ${m.text}`);
      const t = await call('POST', '/api/v1/tokens', { body: { name: `${name}-t`, principal: name } });
      if (t.status !== 201) throw new Error(`token for ${name}: ${t.text}`);
      return (t.body as { token: string }).token;
    },
    async close() {
      await platform.close();
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
