// Errors on MLflow paths in MLflow's shape, `{"error_code": "...", "message": "..."}`, with the HTTP
// status of mlflow/exceptions.py (research note §3): RESOURCE_ALREADY_EXISTS is a 400, not a 409;
// a missing experiment is RESOURCE_DOES_NOT_EXIST (the client's set_experiment relies on exactly
// that code to create one). The Strata error object rides along under "error" (clients ignore
// unknown fields), so Strata tooling reads both front ends alike.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../../kernel/index.ts';
import { isStrataError } from '../../kernel/index.ts';

/** MLflow error codes (databricks.proto ErrorCode) this front end answers with. */
export type MlflowErrorCode =
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'RESOURCE_CONFLICT'
  | 'ENDPOINT_NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'BAD_REQUEST'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'INTERNAL_ERROR'
  | 'TEMPORARILY_UNAVAILABLE';

/** HTTP status per MLflow error code (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS). */
export const MLFLOW_STATUS: Readonly<Record<MlflowErrorCode, number>> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  RESOURCE_CONFLICT: 409,
  ENDPOINT_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  TEMPORARILY_UNAVAILABLE: 503,
};

const FROM_STRATA: Readonly<Record<ErrorCode, MlflowErrorCode>> = {
  bad_request: 'INVALID_PARAMETER_VALUE',
  unauthenticated: 'UNAUTHENTICATED',
  forbidden: 'PERMISSION_DENIED',
  not_found: 'RESOURCE_DOES_NOT_EXIST',
  conflict: 'RESOURCE_ALREADY_EXISTS',
  payload_too_large: 'INVALID_PARAMETER_VALUE',
  unsupported_media_type: 'INVALID_PARAMETER_VALUE',
  range_not_satisfiable: 'BAD_REQUEST',
  precondition_failed: 'BAD_REQUEST',
  rate_limited: 'REQUEST_LIMIT_EXCEEDED',
  internal: 'INTERNAL_ERROR',
  unavailable: 'TEMPORARILY_UNAVAILABLE',
};

const TO_STRATA: Readonly<Record<MlflowErrorCode, ErrorCode>> = {
  INVALID_PARAMETER_VALUE: 'bad_request',
  RESOURCE_ALREADY_EXISTS: 'conflict',
  BAD_REQUEST: 'bad_request',
  RESOURCE_DOES_NOT_EXIST: 'not_found',
  RESOURCE_CONFLICT: 'conflict',
  ENDPOINT_NOT_FOUND: 'not_found',
  UNAUTHENTICATED: 'unauthenticated',
  PERMISSION_DENIED: 'forbidden',
  REQUEST_LIMIT_EXCEEDED: 'rate_limited',
  INTERNAL_ERROR: 'internal',
  TEMPORARILY_UNAVAILABLE: 'unavailable',
};

export interface MlflowErrorBody {
  readonly error_code: MlflowErrorCode;
  readonly message: string;
  readonly error: { readonly code: ErrorCode; readonly message: string };
}

export function mlflowErrorBody(code: MlflowErrorCode, message: string): MlflowErrorBody {
  return { error_code: code, message, error: { code: TO_STRATA[code], message } };
}

/** The paths this front end serves (both the API and the UI's ajax prefix, the artifact proxy, the UI's get-artifact). */
export function isMlflowPath(url: string): boolean {
  return (
    url.startsWith('/api/2.0/mlflow/') ||
    url.startsWith('/ajax-api/2.0/mlflow/') ||
    url.startsWith('/api/2.0/mlflow-artifacts/') ||
    url.startsWith('/ajax-api/2.0/mlflow-artifacts/') ||
    url === '/get-artifact' ||
    url.startsWith('/get-artifact?')
  );
}

const send = (reply: FastifyReply, code: MlflowErrorCode, message: string): FastifyReply => reply.status(MLFLOW_STATUS[code]).send(mlflowErrorBody(code, message));

/** Fastify error handler for MLflow paths. Unknown errors become a 500 that reveals nothing internal. */
export function handleMlflowError(e: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isStrataError(e)) {
    if (e.status >= 500) req.log.error({ err: e }, 'request failed');
    // A conflict with work in progress (details.busy) is MLflow's 409 RESOURCE_CONFLICT; others are RESOURCE_ALREADY_EXISTS.
    const code = e.code === 'conflict' && e.details['busy'] === true ? 'RESOURCE_CONFLICT' : FROM_STRATA[e.code];
    const message =
      e.code === 'unauthenticated' ? `${e.message}. MLflow clients: set MLFLOW_TRACKING_TOKEN to a Strata token (or MLFLOW_TRACKING_PASSWORD to it, with any MLFLOW_TRACKING_USERNAME).` : e.message;
    // A byte range outside a downloaded artifact keeps HTTP's 416 (the handler set Content-Range).
    if (e.code === 'range_not_satisfiable') return reply.status(416).send(mlflowErrorBody(code, message));
    return send(reply, code, message);
  }
  const fe = e as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return send(reply, 'INVALID_PARAMETER_VALUE', `Batched logging API requests must be at most ${req.routeOptions.bodyLimit ?? 1048576} bytes; split the request.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return send(reply, 'INVALID_PARAMETER_VALUE', "Bad Request. Content-Type must be one of ['application/json'].");
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return send(reply, 'INVALID_PARAMETER_VALUE', 'Bad Request. The request body is empty: send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return send(reply, 'INVALID_PARAMETER_VALUE', `Bad Request. The request body is not valid JSON: ${fe.message.slice(0, 200)}`);
    default:
      break;
  }
  if (fe.validation !== undefined || fe instanceof SyntaxError || fe.statusCode === 400) return send(reply, 'INVALID_PARAMETER_VALUE', fe.message.slice(0, 500));
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return send(reply, 'BAD_REQUEST', fe.message.slice(0, 500));
  req.log.error({ err: e }, 'unexpected error');
  return send(reply, 'INTERNAL_ERROR', `internal error; quote request id ${String(req.id)} when reporting it`);
}

/** 404 for an MLflow path no route serves (the client maps ENDPOINT_NOT_FOUND to "not supported"). */
export function mlflowNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return send(reply, 'ENDPOINT_NOT_FOUND', `No API endpoint ${req.method} ${req.url.split('?')[0]?.slice(0, 200) ?? ''}; Strata serves the MLflow tracking API`);
}

/**
 * The token of `Authorization: Basic base64(user:token)` (MLFLOW_TRACKING_USERNAME/PASSWORD): the
 * user name is ignored, the password is the Strata token. Undefined when the header is not Basic;
 * '' when it is Basic but malformed.
 */
export function basicAuthToken(header: string): string | undefined {
  const m = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? '' : decoded.slice(colon + 1);
}
