// Small helpers the typed clients share to turn their inputs into requests: path encoding, query
// strings with repeated keys, upload bodies and download answers.
import type { StrataClient } from './client.ts';
import { seg } from './client.ts';
import type { ByteRange, Download, StringMap, UploadBody } from './types.ts';

/** A relative file path inside a run, job or version: each segment encoded, the slashes kept. */
export const filePath = (p: string): string => p.split('/').map(seg).join('/');

type QueryValue = string | number | boolean | readonly string[] | undefined;

/** `path?k=v&k=w…`: arrays as repeated keys (what the server reads as a list), undefined values left out. */
export function withQuery(path: string, query: Readonly<Record<string, QueryValue>>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') params.append(k, String(v));
    else for (const item of v) params.append(k, item);
  }
  const q = params.toString();
  return q === '' ? path : `${path}?${q}`;
}

/** Key → value from either a map or a list of `{key, value}` (MLflow's shape); a later key wins. */
export function toStringMap(tags: StringMap | readonly { readonly key: string; readonly value: string }[] | undefined): Record<string, string> | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) return { ...(tags as StringMap) };
  return Object.fromEntries((tags as readonly { readonly key: string; readonly value: string }[]).map((t) => [t.key, t.value]));
}

/** An upload body as the streaming client takes it: bytes and text become a one-chunk stream. */
export function uploadStream(body: UploadBody): ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    });
  }
  return body;
}

/** GETs a file as a stream with its length and digest; rejects with StrataApiError on an error status. */
export async function download(client: StrataClient, path: string, opts: { range?: ByteRange | undefined; query?: Readonly<Record<string, number | undefined>>; signal?: AbortSignal | undefined } = {}): Promise<Download> {
  const headers: Record<string, string> = {};
  if (opts.range !== undefined) headers['range'] = `bytes=${opts.range.start}-${opts.range.end === undefined ? '' : opts.range.end - 1}`;
  const { body, response } = await client.download(path, { headers, ...(opts.query === undefined ? {} : { query: opts.query }), ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
  const length = response.headers.get('content-length');
  const etag = response.headers.get('etag');
  return {
    body,
    size: length === null ? undefined : Number(length),
    digest: etag === null ? undefined : etag.replace(/^W\//, '').replace(/^"|"$/g, ''),
    status: response.status,
    response,
  };
}
