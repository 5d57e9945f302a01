import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/client.ts';
import { actorScope } from './actor.ts';
import { idempotencyKeys } from './core.schema.ts';
import { AppError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyRowId?: string;
  }
}

const KEY_RE = /^[\x21-\x7e]{1,255}$/;

/**
 * Idempotency-Key for POST routes: the first request with a key runs and its response is kept;
 * a replay gets the kept response; a request arriving while the first still runs waits for it;
 * the same key with a different body is refused with 422. Keys are scoped to the caller.
 */
export function installIdempotency(app: FastifyInstance, db: Db, opts: { waitMs?: number } = {}): void {
  const waitMs = opts.waitMs ?? 10_000;
  app.decorateRequest('idempotencyRowId', undefined);

  const preHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== 'POST') return;
    const raw = req.headers['idempotency-key'];
    if (raw === undefined) return;
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key || !KEY_RE.test(key)) {
      throw new AppError('bad_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
        fields: [{ path: 'headers.idempotency-key', message: 'invalid' }],
      });
    }
    const scope = actorScope(req.actor);
    const requestHash = hashRequest(req);
    const inserted = await db
      .insert(idempotencyKeys)
      .values({ scope, key, method: req.method, path: req.url, requestHash })
      .onConflictDoNothing()
      .returning({ id: idempotencyKeys.id });
    if (inserted[0]) {
      req.idempotencyRowId = inserted[0].id;
      return;
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [row] = await db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
      if (!row) {
        // The first request failed with a server error and released the key: run this one.
        const again = await db
          .insert(idempotencyKeys)
          .values({ scope, key, method: req.method, path: req.url, requestHash })
          .onConflictDoNothing()
          .returning({ id: idempotencyKeys.id });
        if (again[0]) {
          req.idempotencyRowId = again[0].id;
          return;
        }
        continue;
      }
      if (row.requestHash !== requestHash) {
        throw new AppError('unprocessable', `Idempotency-Key was already used for a different request (${row.method} ${row.path})`, {
          code: 'idempotency_key_reused',
        });
      }
      if (row.status === 'completed') {
        reply.header('idempotent-replayed', 'true');
        if (row.responseContentType) reply.type(row.responseContentType);
        reply.status(row.responseStatus ?? 200);
        return reply.send(row.responseBody ?? '');
      }
      if (Date.now() > deadline) {
        throw new AppError('conflict', 'A request with this Idempotency-Key is still being processed', {
          code: 'idempotency_key_in_progress',
        });
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const onSend = async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const id = req.idempotencyRowId;
    if (!id) return payload;
    req.idempotencyRowId = undefined;
    if (reply.statusCode >= 500) {
      // A server error may be transient: free the key so the client's retry runs again.
      await db.delete(idempotencyKeys).where(eq(idempotencyKeys.id, id));
      return payload;
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload == null ? '' : JSON.stringify(payload);
    await db
      .update(idempotencyKeys)
      .set({
        status: 'completed',
        responseStatus: reply.statusCode,
        responseBody: body,
        responseContentType: String(reply.getHeader('content-type') ?? 'application/json'),
        completedAt: sql`now()`,
      })
      .where(eq(idempotencyKeys.id, id));
    return payload;
  };

  // On the routes that take POST only (registered after this), first among their hooks as an
  // app-wide hook would be: every other route is spared two hooks per request.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('POST')) return;
    route.preHandler = [preHandler, ...[route.preHandler ?? []].flat()];
    route.onSend = [onSend, ...[route.onSend ?? []].flat()] as typeof route.onSend;
  });
}

function hashRequest(req: FastifyRequest): string {
  return createHash('sha256')
    .update(`${req.method} ${req.url}\n${JSON.stringify(req.body ?? null)}`)
    .digest('hex');
}

/** Forgets keys older than `hours` (the maintenance job). */
export async function purgeIdempotencyKeys(db: Db, hours = 24): Promise<void> {
  await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${hours})`));
}
