// HTTP routes for jobs (users), nodes (users and admins) and the agent protocol (node identities).
import { Type } from '@sinclair/typebox';
import type { AccessService, Resource, RouteSpec } from '../access/index.ts';
import { defineRoute, projectOfResource } from '../access/index.ts';
import { NAME_PATTERN, badRequest, notFound } from '../kernel/index.ts';
import type { JobService } from './job-service.ts';
import type { JobArtifacts } from './artifacts.ts';
import { attachmentDisposition, parseRangeHeader } from '../blobs/index.ts';
import { ARTIFACT_KINDS, JOB_STATES } from './model.ts';
import type { NodeInfo } from './model.ts';
import { normaliseJobSpec } from './spec.ts';
import type { JobSpecOptions } from './spec-types.ts';

export interface JobRoutesDeps {
  readonly access: AccessService;
  readonly jobs: JobService;
  readonly artifacts: JobArtifacts;
  /** Checks built-in kinds' payloads at submit (the engines' parsers; see JobSpecOptions.kindValidators). */
  readonly kindValidators?: JobSpecOptions['kindValidators'];
}

const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description });
const Strict = { additionalProperties: false } as const;
const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9a-z]{1,40}$` });
const JobParams = Type.Object({ project: Name('project name'), job: Id('job') }, Strict);
const NodeParams = Type.Object({ node: Id('node') }, Strict);
const AttemptParams = Type.Object({ node: Id('node'), attempt: Id('att') }, Strict);
const LeaseBody = Type.Object({ leaseToken: Type.String({ minLength: 1, maxLength: 100 }) }, Strict);
type ProjectResource = Extract<Resource, { kind: 'project' }>;
const PLATFORM: Resource = { kind: 'platform' };

/** The lease token of agent calls that carry no JSON body: a header, never the URL (URLs are logged). */
const LEASE_HEADER = 'x-strata-lease-token';
function leaseTokenOf(headers: Readonly<Record<string, string | string[] | undefined>>): string {
  const t = headers[LEASE_HEADER];
  if (typeof t !== 'string' || t.length === 0 || t.length > 100) throw badRequest(`send the attempt's lease token in the ${LEASE_HEADER} header`, { field: LEASE_HEADER });
  return t;
}

export function jobRoutes({ access, jobs, artifacts, kindValidators }: JobRoutesDeps): RouteSpec[] {
  const projectResource = (name: string): Promise<ProjectResource> => access.projectResource(name);
  const projectOf = projectOfResource;
  const nodeResource = async (id: string): Promise<Resource> => ({ kind: 'node', nodeId: id as NodeInfo['id'], principalId: await jobs.nodeOwner(id) });
  const ReclaimBody = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'why, e.g. "AWS spot interruption notice, 2 minutes"' })) }, Strict);
  const nodeOf = async (id: string): Promise<NodeInfo> => {
    const n = await jobs.nodeById(id);
    if (n === undefined) throw notFound('node', id);
    return n;
  };

  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/jobs',
      summary: 'Submit a job (the job spec as JSON; `strata run -f job.yaml` sends YAML parsed)',
      tags: ['jobs'],
      schema: { params: Type.Object({ project: Name('project name') }, Strict), body: Type.Record(Type.String(), Type.Unknown(), { description: 'a job spec' }) },
      authz: { action: 'job.submit', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ body, actor, resource, principal, status }) => {
        const spec = normaliseJobSpec(body, { allowDangerousEnv: principal.platformAdmin, ...(kindValidators === undefined ? {} : { kindValidators }) });
        status(201);
        return jobs.submit(actor, projectOf(resource), spec);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/jobs',
      summary: 'Jobs of a project, newest first',
      tags: ['jobs'],
      schema: {
        params: Type.Object({ project: Name('project name') }, Strict),
        querystring: Type.Object(
          {
            state: Type.Optional(Type.Union(JOB_STATES.map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            pageToken: Type.Optional(Type.String({ maxLength: 400, description: 'nextPageToken of the previous page' })),
          },
          Strict,
        ),
      },
      authz: { action: 'job.list', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ query, resource }) => {
        const limit = query.limit ?? 100;
        const after = query.pageToken === undefined || query.pageToken === '' ? undefined : decodeJobPageToken(query.pageToken);
        // One more than the page, to know whether another follows.
        const list = await jobs.list(projectOf(resource), { ...(query.state === undefined ? {} : { state: query.state }), limit: limit + 1, ...(after === undefined ? {} : { after }) });
        const page = list.slice(0, limit);
        const last = page.at(-1);
        return list.length > limit && last !== undefined ? { jobs: page, nextPageToken: encodeJobPageToken(last) } : { jobs: page };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/jobs/:job',
      summary: 'A job with its attempts and state transitions',
      tags: ['jobs'],
      schema: { params: JobParams },
      authz: { action: 'job.read', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ params, resource }) => {
        const p = projectOf(resource);
        return { ...(await jobs.get(p, params.job)), attemptList: await jobs.attempts(p, params.job), events: await jobs.events(p, params.job) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/jobs/:job/cancel',
      summary: 'Cancel a job (a running one gets SIGTERM, then SIGKILL after a grace period)',
      tags: ['jobs'],
      schema: { params: JobParams },
      authz: { action: 'job.cancel', resource: ({ params }) => projectResource(params.project) },
      handler: ({ params, actor, resource }) => jobs.cancel(actor, projectOf(resource), params.job),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/jobs/:job/logs',
      summary: 'Log chunks after a sequence number; wait=N long-polls up to N seconds for more',
      tags: ['jobs'],
      schema: {
        params: JobParams,
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })), wait: Type.Optional(Type.Number({ minimum: 0, maximum: 30 })) }, Strict),
      },
      authz: { action: 'job.read', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ params, query, resource, signal }) => {
        const p = projectOf(resource);
        const first = await jobs.logs(p, params.job, query.after ?? 0, query.limit ?? 1000);
        const wait = query.wait ?? 0;
        if (first.chunks.length > 0 || first.done || wait === 0) return first;
        await jobs.waitFor([`logs:${params.job}`, `job:${params.job}`], wait * 1000, signal);
        return jobs.logs(p, params.job, query.after ?? 0, query.limit ?? 1000);
      },
    }),

    // ---- outputs and checkpoints ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/jobs/:job/artifacts',
      summary: 'Outputs and checkpoints the attempts of a job stored',
      tags: ['jobs'],
      schema: { params: JobParams },
      authz: { action: 'job.read', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ params, resource }) => {
        const p = projectOf(resource);
        await jobs.get(p, params.job); // 404 for another project's job
        return { artifacts: await artifacts.list(p.id, params.job) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/jobs/:job/artifacts/:kind/*',
      summary: 'Download one output or checkpoint file (latest attempt that stored it unless ?attempt=N; Range supported)',
      tags: ['jobs'],
      schema: {
        params: Type.Object({ project: Name('project name'), job: Id('job'), kind: Type.Union(ARTIFACT_KINDS.map((k) => Type.Literal(k))), '*': Type.String({ minLength: 1, maxLength: 4096 }) }, Strict),
        querystring: Type.Object({ attempt: Type.Optional(Type.Integer({ minimum: 1 })) }, Strict),
      },
      authz: { action: 'job.read', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ params, query, resource, headers, status, header }) => {
        const p = projectOf(resource);
        await jobs.get(p, params.job);
        const head = await artifacts.open(p.id, params.job, params.kind, params['*'], query.attempt, { start: 0, end: 0 });
        head.stream.destroy();
        const range = parseRangeHeader(headers['range'], head.size);
        const file = await artifacts.open(p.id, params.job, params.kind, params['*'], head.attempt, range ?? {});
        header('content-type', 'application/octet-stream');
        header('x-content-type-options', 'nosniff');
        header('content-disposition', attachmentDisposition(params['*']));
        header('accept-ranges', 'bytes');
        header('etag', `"${file.digest}"`);
        header('x-strata-attempt', String(file.attempt));
        if (range !== undefined) {
          status(206);
          header('content-range', `bytes ${range.start}-${range.end - 1}/${file.size}`);
          header('content-length', String(range.end - range.start));
        } else {
          header('content-length', String(file.size));
        }
        return file.stream;
      },
    }),

    // ---- regions, pools, nodes ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/regions',
      summary: 'Regions: role, carbon signal, PUE, price multiplier, data residency',
      tags: ['compute'],
      schema: {},
      authz: { action: 'node.list', resource: () => PLATFORM },
      handler: () => Promise.resolve({ regions: jobs.compute.regions.map((r) => ({ ...r, carbon: r.carbon.kind === 'csv' ? { kind: 'csv', file: r.carbon.path.split('/').at(-1) } : r.carbon })) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/pools',
      summary: 'Pools: technology, flavor, capacity type, price and power per device',
      tags: ['compute'],
      schema: {},
      authz: { action: 'node.list', resource: () => PLATFORM },
      handler: () => Promise.resolve({ pools: jobs.compute.pools }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/nodes',
      summary: 'Registered nodes with their capacity and state',
      tags: ['nodes'],
      schema: {},
      authz: { action: 'node.list', resource: () => PLATFORM },
      handler: async () => ({ nodes: await jobs.nodes() }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/nodes',
      summary: 'Create a node identity and its token for `strata agent` (platform administrators)',
      tags: ['nodes'],
      schema: { body: Type.Object({ name: Name('node identity name') }, Strict) },
      authz: { action: 'node.create', resource: () => PLATFORM },
      handler: async ({ body, actor, status }) => {
        const p = await access.createPrincipal(actor, { kind: 'node', name: body.name });
        const t = await access.createToken(actor, p.id, 'agent', null);
        status(201);
        return { name: p.name, principalId: p.id, token: t.token };
      },
    }),

    defineRoute({
      method: 'POST',
      url: '/api/v1/nodes/:node/reclaim',
      summary: "Reclaim a node's capacity (platform administrators): nothing more is placed there and its running jobs are preempted — they keep their checkpoint and requeue",
      tags: ['nodes'],
      schema: { params: NodeParams, body: Type.Optional(ReclaimBody) },
      authz: { action: 'node.reclaim', resource: () => PLATFORM },
      handler: async ({ params, body, actor }) => jobs.reclaimNode(await nodeOf(params.node), actor, body?.reason ?? 'reclaimed by a platform administrator'),
    }),

    // ---- agent protocol ----
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/register',
      summary: 'An agent registers (or re-registers) its machine',
      tags: ['agent'],
      schema: {
        body: Type.Object(
          {
            name: Name('node name'),
            region: Name('region'),
            pool: Name('pool'),
            capacity: Type.Object(
              {
                cpuMillis: Type.Integer({ minimum: 1 }),
                memoryBytes: Type.Integer({ minimum: 1 }),
                devices: Type.Integer({ minimum: 0 }),
                flavor: Type.Optional(Type.String({ maxLength: 63 })),
                qubits: Type.Optional(Type.Integer({ minimum: 0 })),
                neurons: Type.Optional(Type.Integer({ minimum: 0 })),
              },
              Strict,
            ),
            labels: Type.Record(Type.String({ maxLength: 63 }), Type.String({ maxLength: 253 })),
            version: Type.String({ maxLength: 40 }),
            address: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$', description: 'host name or IP other nodes reach this one at (MASTER_ADDR of gangs); default: the node name' })),
          },
          Strict,
        ),
      },
      authz: { action: 'agent.register', resource: () => PLATFORM },
      handler: ({ body, principal }) => jobs.registerNode(principal.id, body),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/lease',
      summary: 'Lease attempts placed on this node; long-polls up to waitSeconds when there are none',
      tags: ['agent'],
      schema: { params: NodeParams, body: Type.Object({ max: Type.Integer({ minimum: 1, maximum: 100 }), waitSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 30 })) }, Strict) },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, body, actor, signal }) => ({ attempts: await jobs.lease(await nodeOf(params.node), actor, body.max, (body.waitSeconds ?? 0) * 1000, signal) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/drain',
      summary: 'The agent is stopping: place nothing more on this node; requeue work placed but not started',
      tags: ['agent'],
      schema: { params: NodeParams },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, actor }) => jobs.drainNode(await nodeOf(params.node), actor),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/reclaim',
      summary: 'The machine got a spot interruption notice: preempt what runs here (checkpoint kept, requeued) and place nothing more',
      tags: ['agent'],
      schema: { params: NodeParams, body: Type.Optional(ReclaimBody) },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, body, actor }) => jobs.reclaimNode(await nodeOf(params.node), actor, body?.reason ?? 'spot interruption notice'),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/attempts/:attempt/heartbeat',
      summary: 'Extend an attempt lease (fenced by its token); answers whether to cancel',
      tags: ['agent'],
      schema: { params: AttemptParams, body: LeaseBody },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, body }) => jobs.heartbeat(await nodeOf(params.node), params.attempt, body.leaseToken),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/attempts/:attempt/logs',
      summary: 'Append log chunks of an attempt (fenced by its token)',
      tags: ['agent'],
      schema: {
        params: AttemptParams,
        body: Type.Object(
          {
            leaseToken: Type.String({ minLength: 1, maxLength: 100 }),
            chunks: Type.Array(Type.Object({ stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr'), Type.Literal('system')]), data: Type.String({ maxLength: 262144 }) }, Strict), { maxItems: 1000 }),
          },
          Strict,
        ),
      },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, body }) => {
        const r = await jobs.appendLogs(await nodeOf(params.node), params.attempt, body.leaseToken, body.chunks);
        const a = await jobs.attemptJob(params.attempt);
        if (a !== undefined) jobs.signals.emit(`logs:${a}`);
        return r;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/attempts/:attempt/complete',
      summary: 'Report the end of an attempt (fenced by its token; idempotent)',
      tags: ['agent'],
      schema: {
        params: AttemptParams,
        body: Type.Object(
          {
            leaseToken: Type.String({ minLength: 1, maxLength: 100 }),
            exitCode: Type.Union([Type.Integer(), Type.Null()]),
            reason: Type.String({ maxLength: 2000 }),
            usage: Type.Object(
              {
                cpuSeconds: Type.Optional(Type.Number({ minimum: 0 })),
                peakMemoryBytes: Type.Optional(Type.Number({ minimum: 0 })),
                wallSeconds: Type.Optional(Type.Number({ minimum: 0 })),
                energy: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
                carbon: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
              },
              Strict,
            ),
          },
          Strict,
        ),
      },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, body, actor }) => jobs.complete(await nodeOf(params.node), actor, params.attempt, body.leaseToken, body),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/agent/nodes/:node/attempts/:attempt/blobs',
      summary: 'Stream one output or checkpoint file of a live attempt into its project\'s blob store (lease token in x-strata-lease-token)',
      tags: ['agent'],
      schema: { params: AttemptParams },
      streamBody: true,
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, headers, bodyStream, signal, status }) => {
        const r = await artifacts.upload(await nodeOf(params.node), params.attempt, leaseTokenOf(headers), bodyStream, signal);
        status(201);
        return r;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/agent/nodes/:node/attempts/:attempt/artifacts',
      summary: 'Commit the outputs or the checkpoint of a live attempt: paths → uploaded digests (fenced; idempotent)',
      tags: ['agent'],
      schema: {
        params: AttemptParams,
        body: Type.Object(
          {
            leaseToken: Type.String({ minLength: 1, maxLength: 100 }),
            kind: Type.Union(ARTIFACT_KINDS.map((k) => Type.Literal(k))),
            files: Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096 }), digest: Type.String({ maxLength: 80 }), size: Type.Integer({ minimum: 0 }) }, Strict), { maxItems: 10000 }),
          },
          Strict,
        ),
      },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, body, actor }) => artifacts.commit(await nodeOf(params.node), actor, params.attempt, body.leaseToken, body.kind, body.files),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/agent/nodes/:node/attempts/:attempt/checkpoint/:digest',
      summary: 'Download a file of the checkpoint a live attempt restores (lease token in x-strata-lease-token)',
      tags: ['agent'],
      schema: { params: Type.Object({ node: Id('node'), attempt: Id('att'), digest: Type.String({ maxLength: 80 }) }, Strict) },
      authz: { action: 'agent.work', resource: ({ params }) => nodeResource(params.node) },
      handler: async ({ params, headers, header }) => {
        const f = await artifacts.checkpointFile(await nodeOf(params.node), params.attempt, leaseTokenOf(headers), params.digest);
        header('content-type', 'application/octet-stream');
        header('content-length', String(f.size));
        return f.stream;
      },
    }),
  ];
}

/** A page token of the job list: the creation time and id of the last job of the page. */
function encodeJobPageToken(j: { readonly createdAt: string; readonly id: string }): string {
  return Buffer.from(JSON.stringify([j.createdAt, j.id]), 'utf8').toString('base64url');
}

function decodeJobPageToken(token: string): { createdAt: string; id: string } {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') {
    throw badRequest('pageToken: not a token this list gave out; send back the nextPageToken of the previous page', { field: 'pageToken' });
  }
  return { createdAt: v[0], id: v[1] };
}
