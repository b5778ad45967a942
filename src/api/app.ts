// Server assembly: one Fastify instance, every route registered from a RouteSpec through the gate
// below. The gate authenticates the bearer token, resolves the resource, calls authorize() and only
// then runs the handler. A route without an authorisation decision cannot be registered (deny by
// default; research §2.4 route-coverage guard). Denied mutating calls are audited.
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import sjson from 'secure-json-parse';
import { Ajv } from 'ajv';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';
import type { AccessService, Actor, AuditLog, Principal, RouteSpec, Resource } from '../access/index.ts';
import { JsonText, authorize, resourceKey } from '../access/index.ts';
import type { IdGenerator } from '../kernel/index.ts';
import { StrataError, badRequest, notFound, unauthenticated } from '../kernel/index.ts';
import { errorBody, handleError } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { RequestLogger } from './request-logger.ts';
import { basicAuthToken, handleMlflowError, isMlflowPath, mlflowNotFound } from './mlflow/index.ts';
import type { HttpMetrics } from './metrics.ts';

export interface AppDeps {
  readonly access: AccessService;
  readonly audit: AuditLog;
  readonly ids: IdGenerator;
  readonly routes: readonly RouteSpec[];
  readonly logger?: Logger | false;
  readonly bodyLimit?: number;
  readonly version?: string;
  /** Extra health checks (e.g. the database); each throws when unhealthy. */
  readonly health?: () => Promise<void>;
}

/** What the gate recorded for a registered route (read by the route-coverage test). */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  /** The action name, or 'public'. */
  readonly authz: string;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the gate's onRequest hook on non-public routes. */
    strataPrincipal?: Principal;
  }
  interface FastifyContextConfig {
    /** Set for every route by the gate: the action, or 'public'. */
    strataAuthz?: string;
  }
}

export interface StrataApp {
  readonly fastify: FastifyInstance;
  readonly metrics: HttpMetrics;
  readonly registered: readonly RegisteredRoute[];
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  // MLflow clients send MLFLOW_TRACKING_USERNAME/PASSWORD as Basic auth: the password is the token.
  const basic = isMlflowPath(req.url) ? basicAuthToken(h) : undefined;
  if (basic !== undefined) return basic;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1] ?? '';
}

/**
 * What a route handler gets. A class rather than an object literal with a spread and a getter: V8
 * builds such a literal through its slow runtime path, which cost ~20 µs per request here.
 */
class HandlerContext {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
  /** Headers ride along for the handlers that need them (the MLflow front end's project header and Content-Type rule). */
  readonly headers: FastifyRequest['headers'];
  readonly bodyStream: FastifyRequest['raw'];
  readonly actor: Actor;
  readonly requestId: string;
  /** Own properties (not methods), so that handlers may destructure them. */
  readonly status: (code: number) => void;
  readonly header: (name: string, value: string) => void;
  private disconnect: AbortController | undefined;

  constructor(
    req: FastifyRequest,
    private readonly reply: FastifyReply,
    readonly principal: Principal,
    readonly resource: Resource,
  ) {
    this.params = req.params;
    this.query = req.query;
    this.body = req.body;
    this.headers = req.headers;
    this.bodyStream = req.raw;
    this.actor = { principal, requestId: req.id };
    this.requestId = req.id;
    this.status = (code) => void reply.status(code);
    this.header = (name, value) => void reply.header(name, value);
  }

  /**
   * Aborted when the client goes away. Made on first use: most handlers never look, and an
   * AbortController per request is measurable at tens of thousands of requests per second.
   */
  get signal(): AbortSignal {
    if (this.disconnect === undefined) {
      const ac = new AbortController();
      this.disconnect = ac;
      const raw = this.reply.raw;
      if (raw.destroyed && !raw.writableFinished) ac.abort();
      else
        raw.once('close', () => {
          if (!raw.writableFinished) ac.abort();
        });
    }
    return this.disconnect.signal;
  }
}

export async function buildApp(deps: AppDeps): Promise<StrataApp> {
  const metrics = createMetrics();
  // Request ids: one random prefix per process and a counter — unique without a CSPRNG call per request.
  const reqPrefix = `${deps.ids.next('request')}-`;
  let reqCounter = 0;
  const registered: RegisteredRoute[] = [];
  const fastify = Fastify({
    ...(deps.logger === undefined || deps.logger === false
      ? { logger: false }
      : {
          loggerInstance: deps.logger,
          // req.log: a child made only when a request logs at an enabled level (request-logger.ts).
          childLoggerFactory: (root: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions) =>
            opts.level === undefined ? new RequestLogger(root as Logger, bindings, opts) : root.child(bindings, opts),
        }),
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    genReqId: () => `${reqPrefix}${(++reqCounter).toString(36)}`,
    // One log line per request (in onResponse) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Platform close stops the local agent and wakes every long-poll before the HTTP server closes,
    // so connections still open then are keep-alive leftovers: close them rather than wait them out.
    forceCloseConnections: true,
    // Refusals before routing (a URL that does not percent-decode, such as '%2%0952e' or an overlong
    // '%c0%af') answer in the same shapes as every other error.
    frameworkErrors: (e, req, reply) => {
      if (isMlflowPath(req.url)) void handleMlflowError(e, req, reply);
      else void (reply as unknown as FastifyReply).status(e.statusCode ?? 400).send(errorBody('bad_request', e.message));
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, caseSensitive: true, maxParamLength: 200 },
  }) as unknown as FastifyInstance; // the pino Logger type is narrower than Fastify's base logger type

  // Validation: unknown fields are rejected, never silently dropped. Query strings and path
  // parameters arrive as text and are coerced to the schema's numbers and booleans; JSON bodies are
  // NOT coerced — coercion would turn null into 0 and 0 into null (a lost exit code reads as success).
  const ajvText = new Ajv({ removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false, strict: false });
  const ajvBody = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false, strict: false });
  fastify.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajvBody : ajvText).compile(schema));

  fastify.addHook('onRoute', (route) => {
    const authz = route.config?.strataAuthz;
    if (authz === undefined) {
      throw new Error(`route ${String(route.method)} ${route.url} has no authorisation decision; register it through a RouteSpec`);
    }
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) registered.push({ method: m, url: route.url, authz });
  });
  fastify.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', req.id);
    done(null, payload);
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    req.log.info({ method: req.method, url: req.url.slice(0, 300), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    done();
  });
  // JSON bodies: secure-json-parse refuses `__proto__` and `constructor.prototype` keys
  // (prototype poisoning, research §2.3) with a message that says which.
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(badRequest('the body is empty: send a JSON object, or omit the content-type header'), undefined);
      return;
    }
    try {
      done(null, sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      done(
        /prototype/i.test(msg)
          ? badRequest('the body was refused: it contains a "__proto__" or "constructor.prototype" key; remove it')
          : badRequest(`the body is not valid JSON: ${msg.slice(0, 200)}`),
        undefined,
      );
    }
  });
  // Raw bytes (artifact uploads): left unread for the route's handler to stream (RouteSpec.streamBody).
  fastify.addContentTypeParser('application/octet-stream', (_req, _payload, done) => {
    done(null, undefined);
  });
  // Compat front ends answer in their own protocol's error shape (ARCHITECTURE.md, "Errors").
  fastify.setErrorHandler((e: FastifyError | Error, req, reply) => (isMlflowPath(req.url) ? handleMlflowError(e, req, reply) : handleError(e, req, reply)));
  fastify.setNotFoundHandler((req, reply) =>
    isMlflowPath(req.url)
      ? mlflowNotFound(req, reply)
      : reply.status(404).send(errorBody('not_found', `no route ${req.method} ${req.url.slice(0, 200)}; GET /openapi.json lists the API`)),
  );

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Strata API', version: deps.version ?? '0.1.0', description: 'Control-plane API of the Strata AI-infrastructure platform.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Strata API token (strata_...)' } } },
      security: [{ bearer: [] }],
    },
  });

  const authenticate = async (req: FastifyRequest): Promise<Principal> => {
    const token = bearer(req);
    if (token === undefined) throw unauthenticated('this route needs a token: send "Authorization: Bearer <token>" (the CLI does this after `strata login`)');
    if (token === '') throw unauthenticated('the Authorization header must be "Bearer <token>"');
    return deps.access.authenticate(token);
  };

  const register = (spec: RouteSpec, scope: FastifyInstance = fastify): void => {
    const isPublic = 'public' in spec.authz;
    scope.route({
      method: spec.method,
      url: spec.url,
      config: { strataAuthz: isPublic ? 'public' : (spec.authz as { action: string }).action },
      // Authenticate before the body is read or validated: anonymous callers learn nothing and cost little.
      ...(isPublic
        ? {}
        : {
            onRequest: async (req: FastifyRequest) => {
              req.strataPrincipal = await authenticate(req);
            },
          }),
      schema: {
        summary: spec.summary,
        tags: [...spec.tags],
        ...(isPublic ? { security: [] } : {}),
        ...(spec.schema.params === undefined ? {} : { params: spec.schema.params }),
        ...(spec.schema.querystring === undefined ? {} : { querystring: spec.schema.querystring }),
        ...(spec.schema.body === undefined ? {} : { body: spec.schema.body }),
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        let principal: Principal;
        let resource: Resource = { kind: 'platform' };
        if ('public' in spec.authz) {
          principal = { id: 'anonymous' as Principal['id'], kind: 'user', name: 'anonymous', platformAdmin: false, bindings: [], tokenId: null };
        } else {
          principal = req.strataPrincipal ?? (await authenticate(req));
          const { action } = spec.authz;
          // A resource that does not exist answers 404, exactly like one the caller may not see.
          // Headers ride along for the resolvers that need them (the MLflow front end's project header).
          // A literal with every property named (no spread): this runs on every request.
          resource = await spec.authz.resource({ params: req.params, query: req.query, body: req.body, headers: req.headers, principal });
          const decision = authorize(principal, action, resource);
          if (!decision.allow) {
            if (MUTATING.has(req.method)) {
              await deps.audit.appendAlone({
                actor: principal.id,
                action,
                resource: resourceKey(resource),
                project: resource.kind === 'project' ? resource.projectId : null,
                outcome: 'denied',
                requestId: req.id,
                details: { reason: decision.reason },
              });
            }
            if (decision.hide) throw notFound(resource.kind, 'name' in resource ? resource.name : resourceKey(resource));
            throw new StrataError('forbidden', decision.reason, { details: { action } });
          }
        }
        if (spec.streamBody === true && !/^application\/octet-stream\b/i.test(req.headers['content-type'] ?? '')) {
          throw new StrataError('unsupported_media_type', `send the file as the raw body with "Content-Type: application/octet-stream" (got ${JSON.stringify(req.headers['content-type'] ?? 'none')})`);
        }
        const result = await spec.handler(new HandlerContext(req, reply, principal, resource));
        if (result === undefined) return reply.send();
        if (result instanceof JsonText) return reply.type('application/json; charset=utf-8').send(result.text);
        return typeof result === 'string' ? reply.type('text/plain; charset=utf-8').send(result) : reply.send(result);
      },
    });
  };

  const builtin: RouteSpec[] = [
    {
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness and database reachability',
      tags: ['platform'],
      schema: {},
      authz: { public: true, reason: 'load balancers and probes carry no token' },
      handler: async () => {
        await deps.health?.();
        return { status: 'ok', version: deps.version ?? '0.1.0' };
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics',
      tags: ['platform'],
      schema: {},
      authz: { public: true, reason: 'Prometheus scrapers carry no token; the server binds to loopback by default' },
      handler: async (ctx) => {
        ctx.header('content-type', metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    },
    {
      method: 'GET',
      url: '/openapi.json',
      summary: 'The OpenAPI 3 document of this API',
      tags: ['platform'],
      schema: {},
      authz: { public: true, reason: 'the API description is not secret' },
      handler: () => Promise.resolve(fastify.swagger()),
    },
  ];
  for (const spec of [...builtin, ...deps.routes]) if (spec.streamBody !== 'any') register(spec);
  // Routes taking raw bytes of any media type live in a scope of their own whose one parser leaves
  // every body unread for the handler, so they neither buffer a JSON-typed file nor widen what the
  // other routes accept (the MLflow Content-Type rule stays as it is there).
  const anyBody = deps.routes.filter((spec) => spec.streamBody === 'any');
  if (anyBody.length > 0) {
    await fastify.register((scope, _opts, ready) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_req, _payload, done) => {
        done(null, undefined);
      });
      for (const spec of anyBody) register(spec, scope);
      ready();
    });
  }
  await fastify.ready();
  return { fastify, metrics, registered };
}
