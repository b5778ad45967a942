// How a module declares an HTTP route: method, path, JSON schema, and — required — its
// authorisation. `api/` registers these specs and enforces `authz` in one gate before the handler
// runs; a spec without `authz` does not type-check, and the gate refuses to register one at run time.
import type { TSchema, Static } from '@sinclair/typebox';
import type { Action } from './authorize.ts';
import type { Actor } from './access-service.ts';
import type { Principal, Resource } from './model.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSchemas {
  readonly params?: TSchema;
  readonly querystring?: TSchema;
  readonly body?: TSchema;
  readonly response?: Readonly<Record<number, TSchema>>;
}

type StaticOr<S, D> = S extends TSchema ? Static<S> : D;

/** What a handler gets: validated input, the caller, the authorised resource. */
export interface RouteContext<S extends RouteSchemas, R extends Resource = Resource> {
  readonly params: StaticOr<S['params'], Record<string, never>>;
  readonly query: StaticOr<S['querystring'], Record<string, never>>;
  readonly body: StaticOr<S['body'], undefined>;
  readonly principal: Principal;
  readonly resource: R;
  readonly actor: Actor;
  readonly requestId: string;
  /** Aborted when the client goes away before the response is sent (long-polls stop early). */
  readonly signal: AbortSignal;
  /** Request headers (lower-case names), e.g. for a lease token that must not appear in URLs and logs. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request body as bytes, unread: only on routes with `streamBody` (application/octet-stream). */
  readonly bodyStream: AsyncIterable<Uint8Array>;
  /** Sets the response status (default 200). */
  readonly status: (code: number) => void;
  readonly header: (name: string, value: string) => void;
}

/** Input the resource resolver sees (validated params and query). */
export interface ResolveInput<S extends RouteSchemas> {
  readonly params: StaticOr<S['params'], Record<string, never>>;
  readonly query: StaticOr<S['querystring'], Record<string, never>>;
  readonly body: StaticOr<S['body'], undefined>;
  /** Request headers (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly principal: Principal;
}

export type Authz<S extends RouteSchemas, R extends Resource> =
  | { readonly public: true; readonly reason: string }
  | { readonly action: Action; readonly resource: (input: ResolveInput<S>) => Promise<R> | R };

export interface RouteSpec<S extends RouteSchemas = RouteSchemas, R extends Resource = Resource> {
  readonly method: HttpMethod;
  readonly url: string;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly schema: S;
  readonly authz: Authz<S, R>;
  /**
   * The body is raw bytes (`Content-Type: application/octet-stream`), streamed to the handler as
   * `bodyStream` without buffering or a size limit of the HTTP layer: the handler enforces its own.
   * `'any'`: the same, whatever the Content-Type (MLflow's artifact PUT sends the file's guessed type).
   */
  readonly streamBody?: true | 'any';
  /** Returns the JSON body (or a string for text responses, or JsonText for a body already written as JSON). */
  readonly handler: (ctx: RouteContext<S, R>) => Promise<unknown>;
}

/**
 * A response body that is already JSON text (written by the database, say): the gate sends it as it
 * is, as `application/json`, instead of serialising an object. The producer answers for its being
 * valid JSON.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** Identity helper that keeps the generic parameters when specs are collected in arrays. */
export function defineRoute<S extends RouteSchemas, R extends Resource>(spec: RouteSpec<S, R>): RouteSpec {
  return spec as unknown as RouteSpec;
}
