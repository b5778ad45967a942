// MLflow's artifact endpoints over Strata's run artifact trees (research note §1, §2, §9):
//
//   PUT    /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>   upload (raw body, any Content-Type) → {}
//   GET    /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>   download (Range supported)
//   GET    /api/2.0/mlflow-artifacts/artifacts?path=<exp>/<run>/artifacts[/<dir>]   → {files:[{path (base name), is_dir, file_size}]}
//   DELETE /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts[/<path>]  → {} (audited)
//   GET    /api/2.0/mlflow/artifacts/list?run_id=&path=&page_token=   → {root_uri, files:[{path (from the run root), is_dir, file_size}], next_page_token}
//   GET    /get-artifact?run_uuid=&path=                               the UI's legacy download
//
// (each also under /ajax-api/2.0/…). A run's artifact_uri is `mlflow-artifacts:/<exp>/<run>/artifacts`;
// the client turns it into `<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts`
// and appends the file's path, so the proxy namespace here is exactly the runs' trees: a path that
// is not `<experiment id>/<run id>/artifacts[/…]` of a run the caller can see is refused (400) or
// not found (404). Every path goes through `normaliseArtifactPath` before a run is looked up or a
// byte is read — the regression inputs of CVE-2023-30172, CVE-2023-6831 and its bypass
// CVE-2024-1560 (double encoding), CVE-2024-3848 ('?' in a path) answer 400 and write nothing.
// The UI's POST `/ajax-api/2.0/mlflow/upload-artifact` is not served: it takes raw bytes with a
// "simple" content type, which a cross-site form can send (CSRF), and no client needs it.
import type { HttpMethod, Principal, Resource, RouteSpec } from '../../access/index.ts';
import { defineRoute } from '../../access/index.ts';
import type { ArtifactPath } from '../../blobs/index.ts';
import { normaliseArtifactPath } from '../../blobs/index.ts';
import { StrataError, badRequest } from '../../kernel/index.ts';
import type { RunArtifacts, TrackingService } from '../../tracking/index.ts';
import { EXPERIMENT_ID_PATTERN, RUN_ARTIFACT_LIMITS, RUN_ID_PATTERN, TRACKING_ACTIONS, mayWriteRun, serveRunArtifact } from '../../tracking/index.ts';
import type { MlflowInput } from './protocol.ts';
import { optString, requestMessage, runIdOf } from './protocol.ts';
import { MLFLOW_PREFIXES } from './routes.ts';

export interface MlflowArtifactRoutesDeps {
  readonly tracking: TrackingService;
  readonly artifacts: RunArtifacts;
}

/** URL prefixes of the artifact proxy (the REST API's and the UI's). */
export const MLFLOW_ARTIFACT_PREFIXES = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'] as const;
/** The UI's legacy download route (not under a versioned prefix). */
export const GET_ARTIFACT_PATH = '/get-artifact';

type ProjectResource = Extract<Resource, { kind: 'project' }>;

const EXPERIMENT_ID_RE = new RegExp(EXPERIMENT_ID_PATTERN);
const RUN_ID_RE = new RegExp(RUN_ID_PATTERN);
/** A run's artifact root with a trailing slash, as `delete_artifacts()` of the whole root sends it. */
const ROOT_WITH_SLASH = /^[^/]+\/[^/]+\/artifacts\/$/;

/** Where a proxy path points: a run (by experiment and run id) and a path in its tree (undefined: its root). */
export interface ProxyTarget {
  readonly experimentId: string;
  readonly runId: string;
  readonly path: ArtifactPath | undefined;
}

/**
 * Parses a proxy path `<experiment id>/<run id>/artifacts[/<path>]`. The whole path is checked by
 * `normaliseArtifactPath` first (400 with the reason), then its shape.
 */
export function proxyTarget(raw: string, field = 'path'): ProxyTarget {
  const trimmed = ROOT_WITH_SLASH.test(raw) ? raw.slice(0, -1) : raw;
  const shape = (): StrataError =>
    badRequest(
      `'${field}' must name a run's artifacts as <experiment id>/<run id>/artifacts[/<path>] — the run's artifact_uri is mlflow-artifacts:/<experiment id>/<run id>/artifacts (Strata stores artifacts per run)`,
      { field },
    );
  if (trimmed === '') throw shape();
  const whole = normaliseArtifactPath(trimmed, { field });
  const [experimentId, runId, root, ...rest] = whole.split('/');
  if (experimentId === undefined || runId === undefined || root !== 'artifacts' || !EXPERIMENT_ID_RE.test(experimentId) || !RUN_ID_RE.test(runId)) throw shape();
  return { experimentId, runId, path: rest.length === 0 ? undefined : normaliseArtifactPath(rest.join('/'), { field }) };
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const wildcard = (input: { params: unknown }): string => {
  const p = input.params as Record<string, unknown>;
  return typeof p['*'] === 'string' ? p['*'] : '';
};

/** The MLflow artifact routes (proxy, artifacts/list, get-artifact); register beside `mlflowRoutes`. */
export function mlflowArtifactRoutes({ tracking, artifacts }: MlflowArtifactRoutesDeps): RouteSpec[] {
  const resourceOf = async (projectId: string): Promise<ProjectResource> => {
    const p = await tracking.project(projectId);
    if (p === undefined) throw new StrataError('not_found', `project '${projectId}' was not found (or you cannot see it)`);
    return { kind: 'project', projectId: p.projectId, teamId: p.teamId, name: p.name };
  };
  /** The project of a run; 404 when there is no such run (in that experiment, when one is named). */
  const byRun = async (runId: string, experimentId?: string): Promise<ProjectResource> => {
    if (!RUN_ID_RE.test(runId)) throw badRequest(`Invalid run ID: '${runId.slice(0, 100)}'`, { field: 'run_id' });
    const scope = await tracking.runScope(runId);
    if (scope === undefined || (experimentId !== undefined && scope.experimentId !== experimentId)) {
      throw new StrataError('not_found', experimentId === undefined ? `Run with id=${runId} not found` : `Run with id=${runId} not found in experiment ${experimentId}`, { details: { run: runId } });
    }
    return resourceOf(scope.projectId);
  };
  const projectOf = (r: Resource): ProjectResource => {
    if (r.kind !== 'project') throw new StrataError('internal', 'MLflow artifact calls resolve to a project');
    return r;
  };
  const mayWrite = (principal: Principal, runId: string): void => {
    if (!mayWriteRun(principal, runId)) throw new StrataError('not_found', `Run with id=${runId} not found`, { details: { run: runId } });
  };
  const needFile = (t: ProxyTarget): ArtifactPath => {
    if (t.path === undefined) throw badRequest("name a file under the run's artifacts (<experiment id>/<run id>/artifacts/<path>); list directories with GET /api/2.0/mlflow-artifacts/artifacts?path=…", { field: 'path' });
    return t.path;
  };
  /** The proxy list's `path` query parameter. */
  const listTarget = (input: MlflowInput): ProxyTarget => proxyTarget(optString(requestMessage('GET', input), 'path') ?? '', 'path');

  const specs: RouteSpec[] = [];
  for (const prefix of MLFLOW_ARTIFACT_PREFIXES) {
    const file = `${prefix}/artifacts/*`;
    const proxyRoute = (method: HttpMethod, summary: string, access: 'read' | 'write', handler: RouteSpec['handler'], extra: Pick<RouteSpec, 'streamBody'> = {}): RouteSpec =>
      defineRoute({
        method,
        url: file,
        summary,
        tags: ['mlflow'],
        schema: {},
        ...extra,
        authz: {
          action: TRACKING_ACTIONS[access],
          resource: (input) => {
            const t = proxyTarget(wildcard(input));
            return byRun(t.runId, t.experimentId);
          },
        },
        handler,
      });
    specs.push(
      proxyRoute(
        'PUT',
        'MLflow artifact proxy: upload one file (raw body, any Content-Type), streamed into the project\'s content-addressed store',
        'write',
        async ({ params, resource, principal, bodyStream }) => {
          const t = proxyTarget(wildcard({ params }));
          mayWrite(principal, t.runId);
          // No AbortSignal: a client that goes away fails the body stream, which ends the put with nothing stored.
          await artifacts.upload(projectOf(resource).projectId, t.runId, needFile(t), bodyStream);
          return {};
        },
        { streamBody: 'any' },
      ),
      proxyRoute('GET', 'MLflow artifact proxy: download one file (Range supported)', 'read', async ({ params, resource, headers, status, header, signal }) => {
        const t = proxyTarget(wildcard({ params }));
        return serveRunArtifact(artifacts, projectOf(resource).projectId, t.runId, needFile(t), { headers, status, header, signal });
      }),
      proxyRoute('DELETE', "MLflow artifact proxy: delete a file or a directory of a run's artifacts (audited)", 'write', async ({ params, resource, principal, actor }) => {
        const t = proxyTarget(wildcard({ params }));
        mayWrite(principal, t.runId);
        await artifacts.delete(actor, projectOf(resource).projectId, t.runId, t.path);
        return {};
      }),
      defineRoute({
        method: 'GET',
        url: `${prefix}/artifacts`,
        summary: 'MLflow artifact proxy: list a directory (?path=<exp>/<run>/artifacts[/<dir>]); entries by base name',
        tags: ['mlflow'],
        schema: {},
        authz: {
          action: TRACKING_ACTIONS.read,
          resource: (input) => {
            const t = listTarget(input);
            return byRun(t.runId, t.experimentId);
          },
        },
        handler: async (ctx) => {
          const t = listTarget(ctx);
          const projectId = projectOf(ctx.resource).projectId;
          // The proxy's ListArtifacts has no paging: gather every page (direct children only).
          const files: Record<string, unknown>[] = [];
          let pageToken: string | undefined;
          do {
            const page = await artifacts.list(projectId, t.runId, t.path, { maxResults: RUN_ARTIFACT_LIMITS.listPageMax, ...(pageToken === undefined ? {} : { pageToken }) });
            for (const e of page.entries) files.push(e.kind === 'file' ? { path: baseName(e.path), is_dir: false, file_size: e.size } : { path: baseName(e.path), is_dir: true });
            pageToken = page.nextPageToken;
          } while (pageToken !== undefined);
          return files.length === 0 ? {} : { files };
        },
      }),
    );
  }

  for (const prefix of MLFLOW_PREFIXES) {
    specs.push(
      defineRoute({
        method: 'GET',
        url: `${prefix}/artifacts/list`,
        summary: "MLflow ListArtifacts: a directory of a run's artifacts (paths from the run's root; paged)",
        tags: ['mlflow'],
        schema: {},
        authz: { action: TRACKING_ACTIONS.read, resource: (input) => byRun(runIdOf(requestMessage('GET', input as MlflowInput))) },
        handler: async (ctx) => {
          const m = requestMessage('GET', ctx);
          const runId = runIdOf(m);
          const projectId = projectOf(ctx.resource).projectId;
          const raw = optString(m, 'path');
          const dir = raw === undefined || raw === '' ? undefined : normaliseArtifactPath(raw, { field: 'path' });
          const token = optString(m, 'page_token');
          const root = await artifacts.root(projectId, runId);
          const page = await artifacts.list(projectId, runId, dir, token === undefined || token === '' ? {} : { pageToken: token });
          const files = page.entries.map((e) => (e.kind === 'file' ? { path: e.path, is_dir: false, file_size: e.size } : { path: e.path, is_dir: true }));
          return { root_uri: root.artifactUri, ...(files.length === 0 ? {} : { files }), ...(page.nextPageToken === undefined ? {} : { next_page_token: page.nextPageToken }) };
        },
      }),
    );
  }

  specs.push(
    defineRoute({
      method: 'GET',
      url: GET_ARTIFACT_PATH,
      summary: "MLflow UI's legacy artifact download (?run_uuid=&path=)",
      tags: ['mlflow'],
      schema: {},
      authz: { action: TRACKING_ACTIONS.read, resource: (input) => byRun(runIdOf(requestMessage('GET', input as MlflowInput))) },
      handler: async (ctx) => {
        const m = requestMessage('GET', ctx);
        const path = normaliseArtifactPath(optString(m, 'path') ?? '', { field: 'path' });
        return serveRunArtifact(artifacts, projectOf(ctx.resource).projectId, runIdOf(m), path, { headers: ctx.headers, status: ctx.status, header: ctx.header, signal: ctx.signal });
      },
    }),
  );
  return specs;
}
