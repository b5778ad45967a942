// The Strata-native run artifact API under /api/v1/projects/{project}/runs/{run}/artifacts:
//
//   GET    …/artifacts?path=dir&pageToken=…   list a directory (files with size and digest, subdirectories)
//   GET    …/artifacts/{path}                 download a file (Range: one byte range → 206)
//   PUT    …/artifacts/{path}                 upload a file as the raw body (application/octet-stream),
//                                             optionally checked against `X-Strata-Digest: sha256:…`
//   DELETE …/artifacts/{path}                 delete a file or a directory (audited)
//
// The project comes from the URL and is authorised by the gate; the service scopes every query by
// it, so another project's run answers 404 like a missing one. Every path goes through
// `normaliseArtifactPath` before anything is read or written.
import { Type } from '@sinclair/typebox';
import type { AccessService, Resource, RouteSpec } from '../access/index.ts';
import { defineRoute } from '../access/index.ts';
import type { ArtifactListing, ArtifactPath, Digest } from '../blobs/index.ts';
import { normaliseArtifactPath, parseDigest } from '../blobs/index.ts';
import type { ProjectId } from '../kernel/index.ts';
import { NAME_PATTERN, StrataError, badRequest } from '../kernel/index.ts';
import { serveRunArtifact } from './artifact-http.ts';
import { TRACKING_ACTIONS } from './routes.ts';
import type { RunArtifacts } from './run-artifacts.ts';
import { RUN_ARTIFACT_LIMITS, mayWriteRun } from './run-artifacts.ts';

export interface ArtifactRoutesDeps {
  readonly access: AccessService;
  readonly artifacts: RunArtifacts;
}

/** Request header carrying the digest an upload must hash to (nothing is stored otherwise). */
export const DIGEST_HEADER = 'x-strata-digest';

const Strict = { additionalProperties: false } as const;
const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description });
const RunIdT = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$', description: 'run id' });
const RunParams = Type.Object({ project: Name('project name'), run: RunIdT }, Strict);
// The path is checked by normaliseArtifactPath (400 with a precise reason), not by a schema pattern.
const FileParams = Type.Object({ project: Name('project name'), run: RunIdT, '*': Type.String({ maxLength: 4096 }) }, Strict);

const pid = (r: Resource): ProjectId => {
  if (r.kind !== 'project') throw badRequest('expected a project');
  return r.projectId;
};

/** JSON of one listing entry. */
export function listingJson(e: ArtifactListing): Record<string, unknown> {
  return e.kind === 'file' ? { path: e.path, kind: 'file', size: e.size, digest: e.digest } : { path: e.path, kind: 'directory' };
}

const filePath = (raw: string): ArtifactPath => normaliseArtifactPath(raw, { field: 'path' });

function expectedDigest(headers: Readonly<Record<string, string | string[] | undefined>>): Digest | undefined {
  const v = headers[DIGEST_HEADER];
  if (v === undefined) return undefined;
  return parseDigest(Array.isArray(v) ? v[0] : v, DIGEST_HEADER);
}

export function artifactRoutes({ access, artifacts }: ArtifactRoutesDeps): RouteSpec[] {
  const read = { action: TRACKING_ACTIONS.read, resource: ({ params }: { params: { project: string } }) => access.projectResource(params.project) };
  const write = { action: TRACKING_ACTIONS.write, resource: ({ params }: { params: { project: string } }) => access.projectResource(params.project) };
  const runOnly = (principal: Parameters<typeof mayWriteRun>[0], run: string): void => {
    if (!mayWriteRun(principal, run)) throw new StrataError('not_found', `Run with id=${run} not found`, { details: { run } });
  };

  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/runs/:run/artifacts',
      summary: "List a directory of a run's artifacts (?path=, the root when absent; paged)",
      tags: ['tracking'],
      schema: {
        params: RunParams,
        querystring: Type.Object(
          {
            path: Type.Optional(Type.String({ maxLength: 4096 })),
            pageToken: Type.Optional(Type.String({ maxLength: 8192 })),
            maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: RUN_ARTIFACT_LIMITS.listPageMax })),
          },
          Strict,
        ),
      },
      authz: read,
      handler: async ({ params, query, resource }) => {
        const dir = query.path === undefined || query.path === '' ? undefined : filePath(query.path);
        const root = await artifacts.root(pid(resource), params.run);
        const page = await artifacts.list(pid(resource), params.run, dir, {
          ...(query.pageToken === undefined ? {} : { pageToken: query.pageToken }),
          ...(query.maxResults === undefined ? {} : { maxResults: query.maxResults }),
        });
        return { root: root.artifactUri, path: dir ?? '', files: page.entries.map(listingJson), nextPageToken: page.nextPageToken ?? null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/runs/:run/artifacts/*',
      summary: "Download one of a run's artifacts (Range: one byte range → 206; ETag is the content digest)",
      tags: ['tracking'],
      schema: { params: FileParams },
      authz: read,
      handler: async ({ params, resource, headers, status, header, signal }) =>
        serveRunArtifact(artifacts, pid(resource), params.run, filePath(params['*']), { headers, status, header, signal }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/projects/:project/runs/:run/artifacts/*',
      summary: `Upload one artifact of a run as the raw body (application/octet-stream; ${DIGEST_HEADER}: sha256:… to have it checked); replaces a file at the same path`,
      tags: ['tracking'],
      schema: { params: FileParams },
      authz: write,
      streamBody: true,
      handler: async ({ params, resource, headers, bodyStream, principal, status }) => {
        runOnly(principal, params.run);
        const path = filePath(params['*']);
        const digest = expectedDigest(headers);
        // No AbortSignal: a client that goes away fails the body stream itself, which ends the put
        // with nothing stored (and FilesystemBlobStore.put retains every chunk while a signal is attached).
        const r = await artifacts.upload(pid(resource), params.run, path, bodyStream, digest === undefined ? {} : { expectedDigest: digest });
        status(201);
        return { path: r.file.path, digest: r.file.digest, size: r.file.size, deduplicated: !r.blobCreated };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/runs/:run/artifacts/*',
      summary: "Delete one of a run's artifacts, or a directory of them (audited)",
      tags: ['tracking'],
      schema: { params: FileParams },
      authz: write,
      handler: async ({ params, resource, actor, principal }) => {
        runOnly(principal, params.run);
        const r = await artifacts.delete(actor, pid(resource), params.run, filePath(params['*']));
        if (r.files === 0) throw new StrataError('not_found', `No artifact '${params['*']}' in run ${params.run}`, { details: { run: params.run } });
        return r;
      },
    }),
  ];
}
