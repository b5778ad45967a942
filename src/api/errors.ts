// The one place errors become HTTP responses: `{"error":{"code","message","details"}}`.
// StrataErrors carry their own status; Fastify's own errors (validation, body limit, bad JSON,
// prototype poisoning) are translated into the same shape with a message that says what to fix.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { NAME_PATTERN, isStrataError } from '../kernel/index.ts';
import type { ErrorCode } from '../kernel/index.ts';

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: Readonly<Record<string, unknown>> };
}

export function errorBody(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}): ErrorBody {
  return { error: { code, message, details } };
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
  keyword?: string;
}

function describeValidation(e: FastifyError): { message: string; details: Record<string, unknown> } {
  const issues = (e.validation ?? []) as ValidationIssue[];
  const ctx = e.validationContext ?? 'request';
  const parts = issues.slice(0, 5).map((i) => {
    const field = `${ctx}${(i.instancePath ?? '').replace(/\//g, '.')}`;
    if (i.keyword === 'pattern' && i.params?.['pattern'] === NAME_PATTERN) {
      return `${field} is not a valid name: use 1–63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
    }
    if (i.keyword === 'additionalProperties') return `${field} has an unknown field '${String(i.params?.['additionalProperty'])}'; remove it`;
    return `${field} ${i.message ?? 'is invalid'}`;
  });
  return { message: `invalid ${ctx}: ${parts.join('; ')}`, details: { validation: issues.slice(0, 5).map((i) => ({ path: `${ctx}${i.instancePath ?? ''}`, message: i.message ?? '' })) } };
}

/** Fastify error handler. Unknown errors become a 500 whose body reveals nothing internal. */
export function handleError(e: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isStrataError(e)) {
    if (e.status >= 500) req.log.error({ err: e }, 'request failed');
    return reply.status(e.status).send(errorBody(e.code, e.message, e.details));
  }
  const fe = e as FastifyError;
  if (fe.validation !== undefined) {
    const { message, details } = describeValidation(fe);
    return reply.status(400).send(errorBody('bad_request', message, details));
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply.status(413).send(errorBody('payload_too_large', `the request body is larger than the ${req.routeOptions.bodyLimit ?? 1048576}-byte limit; send less`));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply.status(415).send(errorBody('bad_request', 'send the body as application/json'));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply.status(400).send(errorBody('bad_request', 'the body is empty: send a JSON object, or omit the content-type header'));
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': {
      // secure-json-parse refuses `__proto__` and `constructor.prototype` keys (prototype poisoning).
      const cause = fe.cause instanceof Error ? fe.cause.message : '';
      const why = /prototype/i.test(cause) ? `it contains a forbidden key (${cause}); remove "__proto__" / "constructor" keys` : `it is not valid JSON${cause === '' ? '' : ` (${cause})`}`;
      return reply.status(400).send(errorBody('bad_request', `the body was refused: ${why}`));
    }
    default:
      break;
  }
  if (fe instanceof SyntaxError || fe.statusCode === 400) {
    // JSON.parse errors and secure-json-parse's prototype-poisoning refusals (`__proto__`, `constructor.prototype`).
    return reply.status(400).send(errorBody('bad_request', `the body was refused: ${fe.message}`));
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.status(fe.statusCode).send(errorBody('bad_request', fe.message));
  }
  req.log.error({ err: e }, 'unexpected error');
  return reply.status(500).send(errorBody('internal', `internal error; quote request id ${String(req.id)} when reporting it`));
}
