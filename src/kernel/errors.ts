// One small error hierarchy for the whole platform. HTTP mapping happens in exactly one place
// (api/error-handler.ts); compat front ends map to their own protocol's shape from the same fields.

export type ErrorCode =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'range_not_satisfiable'
  | 'precondition_failed'
  | 'rate_limited'
  | 'internal'
  | 'unavailable';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  precondition_failed: 412,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

export interface StrataErrorOptions {
  readonly details?: Readonly<Record<string, unknown>>;
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/** Base of every error the platform raises on purpose. `message` tells the user what to do next. */
export class StrataError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: StrataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StrataError';
    this.code = code;
    this.status = STATUS[code];
    this.retryable = options.retryable ?? (code === 'unavailable' || code === 'rate_limited');
    this.details = options.details ?? {};
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>): StrataError =>
  new StrataError('bad_request', message, details === undefined ? {} : { details });
export const notFound = (what: string, name: string): StrataError =>
  new StrataError('not_found', `${what} '${name}' was not found (or you cannot see it)`, { details: { [what]: name } });
export const conflict = (message: string, details?: Record<string, unknown>): StrataError =>
  new StrataError('conflict', message, details === undefined ? {} : { details });
export const forbidden = (message: string, details?: Record<string, unknown>): StrataError =>
  new StrataError('forbidden', message, details === undefined ? {} : { details });
export const unauthenticated = (message: string): StrataError => new StrataError('unauthenticated', message);

export function isStrataError(e: unknown): e is StrataError {
  return e instanceof StrataError;
}

/** Exhaustiveness guard for discriminated unions. */
export function assertNever(x: never, what = 'value'): never {
  throw new StrataError('internal', `unexpected ${what}: ${JSON.stringify(x)}`);
}
