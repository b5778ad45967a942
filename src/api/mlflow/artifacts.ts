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
// and appends the file's path, so the proxy namespace here is exactly the runs' trees and, since
// MLflow 3.x, the logged models' (artifact_uri `mlflow-artifacts:/<exp>/models/<model id>/artifacts`:
// upload, download and list; a model's files are not deleted one by one): a path that is not
// `<experiment id>/<run id>/artifacts[/…]` of a run, or `<experiment id>/models/<model id>/artifacts[/…]`
// of a logged model, the caller can see is refused (400) or not found (404). Every path goes through `normaliseArtifactPath` before a run is looked up or a
// byte is read — the regression inputs of CVE-2023-30172, CVE-2023-6831 and its bypass
// CVE-2024-1560 (double encoding), CVE-2024-3848 ('?' in a path) answer 400 and write nothing.
// The UI's POST `/ajax-api/2.0/mlflow/upload-artifact` is not served: it takes raw bytes with a
// "simple" content type, which a cross-site form can send (CSRF), and no client needs it.
//
// Multipart uploads (MLflow ≥ 2.9, `mpu/create|complete|abort/<dir>` and the presigned part URLs
// `mpu/parts/<upload id>/<part>`) are in multipart.ts; create, complete and abort go through the
// same target parsing, authorisation and run-scoped-token rule as the PUT here, and complete
// stores the file through the same upload, so a multipart file is recorded exactly like a PUT one
// (the mpu paths are checked with `validate_path_is_safe` upstream too since PRs #21945/#21947).
import type { HttpMethod, Principal, Resource, RouteSpec } from '../../access/index.ts';
import { defineRoute } from '../../access/index.ts';
import type { ArtifactPath } from '../../blobs/index.ts';
import { normaliseArtifactPath } from '../../blobs/index.ts';
import { StrataError, badRequest } from '../../kernel/index.ts';
import type { LoggedModelArtifacts, LoggedModels, RunArtifacts, TrackingService } from '../../tracking/index.ts';
import { EXPERIMENT_ID_PATTERN, RUN_ARTIFACT_LIMITS, RUN_ID_PATTERN, TRACKING_ACTIONS, mayWriteRun, noLoggedModel, serveRunArtifact } from '../../tracking/index.ts';
import type { MlflowMultipartUploads, UploadTarget } from './multipart.ts';
import { completeParts } from './multipart.ts';
import type { MlflowInput } from './protocol.ts';
import { headerOf, optInt, optString, reqString, requestMessage, runIdOf } from './protocol.ts';
import { MLFLOW_PREFIXES } from './routes.ts';

export interface MlflowArtifactRoutesDeps {
  readonly tracking: TrackingService;
  readonly artifacts: RunArtifacts;
  /** MLflow 3.x logged models and their artifact trees (`<experiment id>/models/<model id>/artifacts/…`). */
  readonly loggedModels: LoggedModels;
  readonly modelArtifacts: LoggedModelArtifacts;
  /** Multipart uploads through the proxy (`mpu/*`). */
  readonly multipart: MlflowMultipartUploads;
  /** The server's public URL (checkedPublicUrl), for part URLs; default: the request's Host. */
  readonly publicUrl?: string;
}

/**
 * A public URL as `--public-url` takes it: http(s), a host, an optional path prefix, no query,
 * fragment or credentials; returned without a trailing slash. Throws what to fix otherwise.
 */
export function checkedPublicUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`invalid public URL ${JSON.stringify(raw)}: give the URL clients reach the server at, e.g. https://mlflow.example.com`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`invalid public URL ${JSON.stringify(raw)}: it must start with http:// or https://`);
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') throw new Error(`invalid public URL ${JSON.stringify(raw)}: no query, fragment or credentials`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
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

/** Where a proxy path points in a logged model's tree. */
export interface ModelProxyTarget {
  readonly experimentId: string;
  readonly modelId: string;
  readonly path: ArtifactPath | undefined;
}

const MODEL_ROOT = /^([^/]+)\/models\/(m-[0-9a-f]{32})\/artifacts(?:\/(.*))?$/;

/**
 * Parses a proxy path `<experiment id>/models/<model id>/artifacts[/<path>]` (a logged model's tree),
 * or undefined when the path has another shape (then it must name a run's tree: `proxyTarget`). The
 * whole path is checked by `normaliseArtifactPath` first.
 */
export function modelProxyTarget(raw: string, field = 'path'): ModelProxyTarget | undefined {
  const trimmed = raw.endsWith('/artifacts/') ? raw.slice(0, -1) : raw;
  if (trimmed === '') return undefined;
  const whole = normaliseArtifactPath(trimmed, { field });
  const m = MODEL_ROOT.exec(whole);
  if (m === null || !EXPERIMENT_ID_RE.test(m[1] as string)) return undefined;
  const rest = m[3];
  return { experimentId: m[1] as string, modelId: m[2] as string, path: rest === undefined || rest === '' ? undefined : normaliseArtifactPath(rest, { field }) };
}

type Target = ({ readonly kind: 'run' } & ProxyTarget) | ({ readonly kind: 'model' } & ModelProxyTarget);

/** A proxy path: a logged model's tree, else a run's. */
function targetOf(raw: string, field = 'path'): Target {
  const model = modelProxyTarget(raw, field);
  return model !== undefined ? { kind: 'model', ...model } : { kind: 'run', ...proxyTarget(raw, field) };
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/**
 * The file a multipart upload writes: the directory of the mpu URL and the base name of the
 * client's local `path` (MLflow names the object this way), checked as one proxy path.
 */
function multipartFile(dir: string, localPath: string): Target & { readonly path: ArtifactPath } {
  const name = localPath.slice(Math.max(localPath.lastIndexOf('/'), localPath.lastIndexOf('\\')) + 1);
  if (name === '') throw badRequest("'path' must name the file being uploaded (its base name becomes the artifact's name)", { field: 'path' });
  const t = targetOf(`${dir.replace(/\/+$/, '')}/${name}`, 'path');
  if (t.path === undefined) throw badRequest("'path' must name the file being uploaded", { field: 'path' });
  return t as Target & { readonly path: ArtifactPath };
}

/** Where presigned part URLs point without --public-url: this server as the client reached it (Host, and X-Forwarded-Proto behind a TLS proxy). */
function requestOrigin(input: MlflowInput): string {
  const host = headerOf(input, 'host') ?? '';
  if (!/^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(host)) throw badRequest('a multipart upload needs a valid Host header: the part URLs are built from it', { field: 'host' });
  const proto = (headerOf(input, 'x-forwarded-proto') ?? '').split(',')[0]?.trim().toLowerCase() === 'https' ? 'https' : 'http';
  return `${proto}://${host}`;
}
const wildcard = (input: { params: unknown }): string => {
  const p = input.params as Record<string, unknown>;
  return typeof p['*'] === 'string' ? p['*'] : '';
};

/** The MLflow artifact routes (proxy, artifacts/list, get-artifact); register beside `mlflowRoutes`. */
export function mlflowArtifactRoutes({ tracking, artifacts, loggedModels, modelArtifacts, multipart, publicUrl }: MlflowArtifactRoutesDeps): RouteSpec[] {
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
  /** The project of a logged model; 404 when there is no such model in that experiment. */
  const byModel = async (modelId: string, experimentId: string): Promise<ProjectResource> => {
    const scope = await loggedModels.scope(modelId);
    if (scope === undefined || scope.experimentId !== experimentId) throw noLoggedModel(modelId);
    return resourceOf(scope.projectId);
  };
  const byTarget = (t: Target): Promise<ProjectResource> => (t.kind === 'model' ? byModel(t.modelId, t.experimentId) : byRun(t.runId, t.experimentId));
  const projectOf = (r: Resource): ProjectResource => {
    if (r.kind !== 'project') throw new StrataError('internal', 'MLflow artifact calls resolve to a project');
    return r;
  };
  const mayWrite = (principal: Principal, runId: string): void => {
    if (!mayWriteRun(principal, runId)) throw new StrataError('not_found', `Run with id=${runId} not found`, { details: { run: runId } });
  };
  /** A run-scoped token writes only to its run's tree and to the models whose source run it is. */
  const mayWriteTarget = async (principal: Principal, t: Target): Promise<void> => {
    if (t.kind === 'run') return mayWrite(principal, t.runId);
    if (principal.scope !== undefined && (await loggedModels.scope(t.modelId))?.sourceRunId !== principal.scope.runId) throw noLoggedModel(t.modelId);
  };
  const needFile = (t: ProxyTarget | ModelProxyTarget): ArtifactPath => {
    if (t.path === undefined) throw badRequest("name a file under the run's artifacts (<experiment id>/<run id>/artifacts/<path>); list directories with GET /api/2.0/mlflow-artifacts/artifacts?path=…", { field: 'path' });
    return t.path;
  };
  /** The proxy list's `path` query parameter. */
  const listTarget = (input: MlflowInput): Target => targetOf(optString(requestMessage('GET', input), 'path') ?? '', 'path');

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
          resource: (input) => byTarget(targetOf(wildcard(input))),
        },
        handler,
      });
    specs.push(
      proxyRoute(
        'PUT',
        'MLflow artifact proxy: upload one file (raw body, any Content-Type), streamed into the project\'s content-addressed store',
        'write',
        async ({ params, resource, principal, bodyStream }) => {
          const t = targetOf(wildcard({ params }));
          await mayWriteTarget(principal, t);
          // No AbortSignal: a client that goes away fails the body stream, which ends the put with nothing stored.
          if (t.kind === 'model') await modelArtifacts.upload(projectOf(resource).projectId, t.modelId, needFile(t), bodyStream);
          else await artifacts.upload(projectOf(resource).projectId, t.runId, needFile(t), bodyStream);
          return {};
        },
        { streamBody: 'any' },
      ),
      proxyRoute('GET', 'MLflow artifact proxy: download one file (Range supported)', 'read', async ({ params, resource, headers, status, header, signal }) => {
        const t = targetOf(wildcard({ params }));
        const res = { headers, status, header, signal };
        return t.kind === 'model' ? serveRunArtifact(modelArtifacts, projectOf(resource).projectId, t.modelId, needFile(t), res) : serveRunArtifact(artifacts, projectOf(resource).projectId, t.runId, needFile(t), res);
      }),
      proxyRoute('DELETE', "MLflow artifact proxy: delete a file or a directory of a run's artifacts (audited)", 'write', async ({ params, resource, principal, actor }) => {
        const t = targetOf(wildcard({ params }));
        await mayWriteTarget(principal, t);
        if (t.kind === 'model') throw badRequest("a logged model's artifacts are not deleted one by one: delete the model (DELETE /api/2.0/mlflow/logged-models/<model id>)", { field: 'path' });
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
          resource: (input) => byTarget(listTarget(input)),
        },
        handler: async (ctx) => {
          const t = listTarget(ctx);
          const projectId = projectOf(ctx.resource).projectId;
          // The proxy's ListArtifacts has no paging: gather every page (direct children only).
          const files: Record<string, unknown>[] = [];
          let pageToken: string | undefined;
          do {
            const paging = { maxResults: RUN_ARTIFACT_LIMITS.listPageMax, ...(pageToken === undefined ? {} : { pageToken }) };
            const page = t.kind === 'model' ? await modelArtifacts.list(projectId, t.modelId, t.path, paging) : await artifacts.list(projectId, t.runId, t.path, paging);
            for (const e of page.entries) files.push(e.kind === 'file' ? { path: baseName(e.path), is_dir: false, file_size: e.size } : { path: baseName(e.path), is_dir: true });
            pageToken = page.nextPageToken;
          } while (pageToken !== undefined);
          return files.length === 0 ? {} : { files };
        },
      }),
    );

    // ---- multipart upload (multipart.ts) ----
    const mpuRoute = (op: 'create' | 'complete' | 'abort', summary: string, handler: RouteSpec['handler']): RouteSpec =>
      defineRoute({
        method: 'POST',
        url: `${prefix}/mpu/${op}/*`,
        summary,
        tags: ['mlflow'],
        schema: {},
        authz: { action: TRACKING_ACTIONS.write, resource: (input) => byTarget(targetOf(wildcard(input))) },
        handler,
      });
    /** The checked file of an mpu call, after the run-scoped-token rule, as an upload target. */
    const uploadTargetOf = async (ctx: Parameters<RouteSpec['handler']>[0], m: Record<string, unknown>): Promise<UploadTarget> => {
      const t = multipartFile(wildcard(ctx), reqString(m, 'path'));
      await mayWriteTarget(ctx.principal, t);
      const projectId = projectOf(ctx.resource).projectId;
      return { projectId, kind: t.kind, targetId: t.kind === 'model' ? t.modelId : t.runId, experimentId: t.experimentId, path: t.path };
    };
    specs.push(
      mpuRoute('create', 'MLflow CreateMultipartUpload: presigned part URLs (served here, HMAC-signed) for one file of a run\'s or logged model\'s artifacts', async (ctx) => {
        const m = requestMessage('POST', ctx);
        const target = await uploadTargetOf(ctx, m);
        // Refuse at once what the PUT would refuse: a run that is not active, a model that is not.
        if (target.kind === 'model') await modelArtifacts.root(target.projectId, target.targetId);
        else {
          const root = await artifacts.root(target.projectId, target.targetId);
          if (root.lifecycleStage !== 'active') throw badRequest(`The run ${target.targetId} must be in the 'active' state to change its artifacts. Current state is ${root.lifecycleStage}.`, { run: target.targetId });
        }
        const upload = await multipart.create(ctx.principal.id, target, optInt(m, 'num_parts') ?? 1);
        return { upload_id: upload.id, credentials: multipart.credentials(upload, `${publicUrl ?? requestOrigin(ctx)}${prefix}/mpu/parts`) };
      }),
      mpuRoute('complete', 'MLflow CompleteMultipartUpload: checks every part and its ETag, then stores the file like a PUT', async (ctx) => {
        const m = requestMessage('POST', ctx);
        const target = await uploadTargetOf(ctx, m);
        const upload = await multipart.forTarget(reqString(m, 'upload_id'), target);
        const named = completeParts(m);
        await multipart.claim(upload);
        try {
          const parts = await multipart.checkParts(upload, named);
          const body = multipart.body(upload, parts);
          if (target.kind === 'model') await modelArtifacts.upload(target.projectId, target.targetId, target.path, body);
          else await artifacts.upload(target.projectId, target.targetId, target.path, body);
        } catch (e) {
          await multipart.release(upload.id);
          throw e;
        }
        await multipart.discard(upload.id);
        return {};
      }),
      mpuRoute('abort', 'MLflow AbortMultipartUpload: forgets the upload and deletes its staged parts', async (ctx) => {
        const m = requestMessage('POST', ctx);
        const upload = await multipart.forTarget(reqString(m, 'upload_id'), await uploadTargetOf(ctx, m));
        await multipart.abort(upload);
        return {};
      }),
      defineRoute({
        method: 'PUT',
        url: `${prefix}/mpu/parts/:uploadId/:partNumber`,
        summary: 'A presigned part URL of a multipart upload (from mpu/create): the part\'s raw bytes; answers its ETag',
        tags: ['mlflow'],
        schema: {},
        streamBody: 'any',
        authz: { public: true, reason: 'a presigned part URL: the MLflow client PUTs parts with no Authorization header; the HMAC signature in the URL authorises one part of one upload until it expires' },
        handler: async ({ params, query, headers, bodyStream, header }) => {
          const p = params as Record<string, string>;
          const h = headers['content-length'];
          const etag = await multipart.receivePart(p['uploadId'] ?? '', p['partNumber'] ?? '', query, Array.isArray(h) ? h[0] : h, bodyStream);
          header('etag', `"${etag}"`);
          return {};
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
