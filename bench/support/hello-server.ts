// The peer for bench/api.ts: a bare Fastify "hello" route with logging off, in its own process,
// showing the request rate this machine and loopback allow a Node HTTP server at all. Prints
// "listening on <url>" as its first stdout line. bench/tracking.ts sets STRATA_BENCH_PEER_BODY to a
// JSON body to answer instead (the same bytes as the Strata response it is compared with).
import Fastify from 'fastify';

const body = process.env['STRATA_BENCH_PEER_BODY'];
const app = Fastify({ logger: false });
app.get('/', (_req, reply) => (body === undefined ? { hello: 'world' } : reply.type('application/json').send(body)));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`hello peer listening on ${url}\n`);
const stop = (): void => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
