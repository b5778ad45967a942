// The lazy per-request logger: nothing is made for calls below the server's level, and what it
// writes is exactly what a pino child with the request's bindings writes (redaction included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import { RequestLogger } from './request-logger.ts';

function capture(level: string): { logger: Logger; lines: () => Record<string, unknown>[]; children: () => number } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString('utf8'));
      cb();
    },
  });
  let made = 0;
  const logger = pino({ level, redact: { paths: ['*.token'], censor: '[redacted]' }, onChild: () => (made += 1) }, sink);
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>), children: () => made };
}

test('a call below the level writes nothing and makes no child logger', () => {
  const c = capture('warn');
  const log = new RequestLogger(c.logger, { reqId: 'req-1' }, {});
  log.info({ url: '/x' }, 'request');
  log.debug('detail');
  log.trace('more');
  assert.equal(c.children(), 0);
  assert.deepEqual(c.lines(), []);
  assert.equal(log.level, 'warn');
  assert.equal(log.isLevelEnabled('info'), false);
});

test('a call at an enabled level writes the child line: bindings, fields, redaction, message', () => {
  const c = capture('info');
  const log = new RequestLogger(c.logger, { reqId: 'req-2' }, {});
  log.info({ status: 200, auth: { token: 'strata_secret' } }, 'request');
  log.error(new Error('boom'), 'failed');
  log.warn('plain %s', 'text');
  assert.equal(c.children(), 1, 'one child for the whole request');
  const [a, b, d] = c.lines();
  assert.equal(a?.['reqId'], 'req-2');
  assert.equal(a?.['status'], 200);
  assert.deepEqual(a?.['auth'], { token: '[redacted]' });
  assert.equal(a?.['msg'], 'request');
  assert.equal(b?.['reqId'], 'req-2');
  assert.equal((b?.['err'] as { message?: string } | undefined)?.message, 'boom');
  assert.equal(d?.['msg'], 'plain text');
  assert.equal(d?.['level'], 40);
});

test('a child of the request logger carries both sets of bindings', () => {
  const c = capture('info');
  const log = new RequestLogger(c.logger, { reqId: 'req-3' }, {});
  log.child({ job: 'j1' }).info('hello');
  const [line] = c.lines();
  assert.equal(line?.['reqId'], 'req-3');
  assert.equal(line?.['job'], 'j1');
});
