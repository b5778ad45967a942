// Typed HTTP client for Strata's API, used by the CLI, the agent and users' programs. Depends on
// nothing but the platform's wire shapes; uses the runtime's fetch.

/** An error answered by the server, in its `{"error":{code,message,details}}` shape. */
export class StrataApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'StrataApiError';
  }
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7070 */
  readonly server: string;
  readonly token?: string | undefined;
  readonly fetch?: typeof fetch;
}

type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export class StrataClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** Sends one request; resolves to the parsed JSON (or text) body, rejects with StrataApiError. */
  async request<T = unknown>(method: string, path: string, opts: { query?: Query; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }), ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new StrataApiError(0, 'unavailable', `cannot reach the Strata server at ${this.server}${cause === undefined ? '' : ` (${cause})`}: is \`strata server\` running?`);
    }
    return parseAnswer<T>(res, await res.text());
  }

  /**
   * Streams `body` as the raw request body (application/octet-stream) and resolves to the JSON
   * answer. Memory stays flat: the body is read as it is sent.
   */
  async upload<T = unknown>(method: 'PUT' | 'POST', path: string, body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, opts: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/octet-stream', ...opts.headers };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    const stream = body instanceof ReadableStream ? body : iterableToStream(body);
    let res: Response;
    try {
      // `duplex: 'half'` is required by fetch for a streamed request body.
      res = await this.fetchImpl(this.server + path, { method, headers, body: stream, duplex: 'half', ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new StrataApiError(0, 'unavailable', `cannot reach the Strata server at ${this.server}${cause === undefined ? '' : ` (${cause})`}: is \`strata server\` running?`);
    }
    return parseAnswer<T>(res, await res.text());
  }

  /** GETs a file as a byte stream (with the response, for its headers); rejects with StrataApiError on an error status. */
  async download(path: string, opts: { headers?: Record<string, string>; query?: Query; signal?: AbortSignal } = {}): Promise<{ body: ReadableStream<Uint8Array>; response: Response }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...opts.headers };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new StrataApiError(0, 'unavailable', `cannot reach the Strata server at ${this.server}${cause === undefined ? '' : ` (${cause})`}: is \`strata server\` running?`);
    }
    if (!res.ok || res.body === null) return parseAnswer(res, await res.text());
    return { body: res.body, response: res };
  }

  get<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, query === undefined ? {} : { query });
  }
  post<T = unknown>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>('POST', path, { body: body ?? {}, ...(signal === undefined ? {} : { signal }) });
  }
  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }
  delete<T = unknown>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

function parseAnswer<T>(res: Response, text: string): T {
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  const body: unknown = isJson && text !== '' ? JSON.parse(text) : text;
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }).error;
    throw new StrataApiError(res.status, err?.code ?? 'http_error', err?.message ?? `HTTP ${res.status} ${text.slice(0, 200)}`, err?.details ?? {});
  }
  return body as T;
}

function iterableToStream(it: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = it[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next: IteratorResult<Uint8Array> = await iterator.next();
      if (next.done === true) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/**
 * Encodes one path segment (names are validated server-side; this keeps odd input from changing the
 * path). '', '.' and '..' are refused here: URL parsing (WHATWG, RFC 3986 §5.2.4) would drop or
 * resolve them — encoded as %2E too — and send the request to another route. No name, id or
 * artifact path the server accepts is one of them.
 */
export const seg = (s: string): string => {
  if (s === '' || s === '.' || s === '..') throw new StrataApiError(400, 'bad_request', `${JSON.stringify(s)} cannot be a name, id or path segment: give the name itself (artifact paths are relative, without '.' or '..' parts)`, { segment: s });
  return encodeURIComponent(s);
};
