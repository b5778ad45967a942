// The peer for bench/api.ts: a bare Fastify "hello" route with logging off, in its own process,
// showing the request rate this machine and loopback allow a Node HTTP server at all. Prints
// "listening on <url>" as its first stdout line.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', () => ({ hello: 'world' }));
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
