// HTTP details of serving run artifacts, shared by the Strata API and MLflow's artifact proxy
// (the Range parser and attachment header live in blobs/http-range.ts, shared with job artifacts).
import type { Readable } from 'node:stream';
import type { ArtifactPath } from '../blobs/index.ts';
import { attachmentDisposition, parseRangeHeader } from '../blobs/index.ts';
import type { ProjectId } from '../kernel/index.ts';
import type { RunArtifacts } from './run-artifacts.ts';

/** What a handler needs to answer with a file. */
export interface ArtifactResponse {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly status: (code: number) => void;
  readonly header: (name: string, value: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * Answers a download of one run (or logged-model) artifact: 404 when there is no file at `path`, the whole file or
 * the requested range otherwise, with length, ETag (the content digest) and attachment headers.
 */
export async function serveRunArtifact(artifacts: Pick<RunArtifacts, 'file' | 'open'>, projectId: ProjectId, runId: string, path: ArtifactPath, res: ArtifactResponse): Promise<Readable> {
  const file = await artifacts.file(projectId, runId, path);
  let range: { start: number; end: number } | undefined;
  try {
    range = parseRangeHeader(res.headers['range'], file.size);
  } catch (e) {
    res.header('content-range', `bytes */${file.size}`);
    throw e;
  }
  const opened = await artifacts.open(projectId, file, range ?? {}, res.signal);
  res.header('content-type', 'application/octet-stream');
  res.header('x-content-type-options', 'nosniff');
  res.header('content-disposition', attachmentDisposition(path));
  res.header('accept-ranges', 'bytes');
  res.header('etag', `"${file.digest}"`);
  if (range !== undefined) {
    res.status(206);
    res.header('content-range', `bytes ${range.start}-${range.end - 1}/${file.size}`);
    res.header('content-length', String(range.end - range.start));
  } else {
    res.header('content-length', String(file.size));
  }
  return opened.stream;
}
