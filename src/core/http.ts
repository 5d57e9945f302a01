import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, errorKinds, type ErrorKind, type FieldProblem } from './errors.ts';

const titles: Record<ErrorKind, string> = {
  bad_request: 'Bad request',
  unauthenticated: 'Authentication required',
  payment_required: 'Payment required',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  gone: 'Gone',
  unprocessable: 'Unprocessable request',
  rate_limited: 'Too many requests',
  unavailable: 'Service unavailable',
};

const kindByStatus = Object.fromEntries(Object.entries(errorKinds).map(([k, v]) => [v, k])) as Record<number, ErrorKind>;

/** RFC 9457 problem details, the body of every error response. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string(),
  })
  .meta({ id: 'Problem' });

function sendProblem(req: FastifyRequest, reply: FastifyReply, status: number, detail: string, extra: { code?: string; errors?: FieldProblem[] } = {}) {
  const kind = kindByStatus[status];
  return reply
    .status(status)
    .type('application/problem+json')
    .send({
      type: `https://fanfare.dev/problems/${kind ?? (status >= 500 ? 'internal' : 'error')}`,
      title: kind ? titles[kind] : status >= 500 ? 'Internal server error' : 'Error',
      status,
      detail,
      instance: req.url.split('?')[0],
      ...(extra.code ? { code: extra.code } : {}),
      ...(extra.errors?.length ? { errors: extra.errors } : {}),
      requestId: String(req.id),
    });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((thrown: FastifyError | AppError | Error, req, reply) => {
    // Something may throw a string or null; the checks below need an object.
    const err: FastifyError | AppError | Error = typeof thrown === 'object' && thrown !== null ? thrown : new Error(String(thrown));
    if (err instanceof AppError) {
      if (err.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.details.retryAfterSeconds));
      return sendProblem(req, reply, err.status, err.message, {
        ...(err.details.code ? { code: err.details.code } : {}),
        ...(err.details.fields ? { errors: err.details.fields } : {}),
      });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = err.validation.map((v) => {
        const where = err.validationContext ?? 'body';
        const p = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return { path: p ? `${where}.${p}` : where, message: v.message ?? 'invalid' };
      });
      return sendProblem(req, reply, 400, `Invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, {
        code: 'validation_failed',
        errors,
      });
    }
    if (isResponseSerializationError(err)) {
      req.log.error({ err }, 'response did not match its schema');
      return sendProblem(req, reply, 500, 'Something went wrong on our side');
    }
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return sendProblem(req, reply, status, err.message, (err as FastifyError).code ? { code: (err as FastifyError).code } : {});
    }
    req.log.error({ err }, 'unhandled error');
    return sendProblem(req, reply, 500, 'Something went wrong on our side');
  });

  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, 404, `No route ${req.method} ${req.url.split('?')[0]}`));
}

/** Standard error responses for a route's OpenAPI document. */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, problemSchema])) as Record<number, typeof problemSchema>;
