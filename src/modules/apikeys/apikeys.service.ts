import { createHash, randomBytes } from 'node:crypto';
import { apiKeyScopes, roleHas, type Access, type ApiKeyScope } from '../../core/access.ts';
import type { Actor, ApiKeyActor, RequestMeta } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import type { ApiKey, ApiKeyRepository } from './apikeys.repository.ts';

export const API_KEY_PREFIX = 'ffk_';
/** last_used_at is written at most this often per key, so a busy key is not a write per request. */
const TOUCH_EVERY_MS = 60_000;

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export function createApiKeyService(deps: { db: Db; repo: ApiKeyRepository; access: Access; audit: AuditService }) {
  const { db, repo, access, audit } = deps;
  return {
    /** Resolves a presented key to an actor, or refuses with 401. */
    async authenticate(key: string, meta: RequestMeta): Promise<ApiKeyActor> {
      if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) throw new AppError('unauthenticated', 'The API key is not valid', { code: 'invalid_api_key' });
      const row = await repo.findLiveByHash(hashKey(key));
      if (!row) throw new AppError('unauthenticated', 'The API key is not valid, revoked or expired', { code: 'invalid_api_key' });
      if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) await repo.touch(row.id);
      return { kind: 'api_key', apiKeyId: row.id, organizationId: row.organizationId, scopes: row.scopes, meta };
    },

    /** Creates a key; the secret is returned here once and never stored. */
    async create(
      actor: Actor,
      orgId: string,
      input: { name: string; scopes: ApiKeyScope[]; expiresAt?: Date | undefined },
    ): Promise<{ apiKey: ApiKey; secret: string }> {
      const membership = await access.requireOrg(actor, orgId, 'apikeys.manage');
      const user = access.requireUser(actor);
      const notHeld = input.scopes.filter((s) => membership && !roleHas(membership.role, s, membership.permissions));
      if (notHeld.length) throw new AppError('forbidden', `You cannot grant scopes you do not hold: ${notHeld.join(', ')}`);
      if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
        throw new AppError('bad_request', 'expiresAt must be in the future', { fields: [{ path: 'body.expiresAt', message: 'in the past' }] });
      }
      const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const apiKey = await db.transaction(async (tx) => {
        const created = await repo.create(
          {
            organizationId: orgId,
            name: input.name,
            start: secret.slice(0, 12),
            keyHash: hashKey(secret),
            scopes: [...new Set(input.scopes)],
            createdBy: user.userId,
            expiresAt: input.expiresAt ?? null,
          },
          tx,
        );
        await audit.record(
          { action: 'api_key.created', userId: user.userId, organizationId: orgId, resourceType: 'api_key', resourceId: created.id, meta: user.meta, metadata: { name: input.name, scopes: input.scopes } },
          tx,
        );
        return created;
      });
      return { apiKey, secret };
    },

    async list(actor: Actor, orgId: string, q: PageQuery): Promise<Page<ApiKey>> {
      await access.requireOrg(actor, orgId, 'apikeys.manage');
      return toPage(await repo.list(orgId, { before: decodeCursor(q.cursor), limit: q.limit }), q.limit);
    },

    /** Revocation is immediate: the next request with the key is refused. */
    async revoke(actor: Actor, orgId: string, keyId: string): Promise<ApiKey> {
      await access.requireOrg(actor, orgId, 'apikeys.manage');
      return db.transaction(async (tx) => {
        const existing = await repo.get(orgId, keyId, tx);
        if (!existing) throw notFound('API key');
        if (existing.revokedAt) throw new AppError('conflict', 'The API key is already revoked', { code: 'already_revoked' });
        const revoked = await repo.revoke(keyId, actor.kind === 'user' ? actor.userId : null, tx);
        if (!revoked) throw new AppError('conflict', 'The API key is already revoked', { code: 'already_revoked' });
        await audit.record(
          { action: 'api_key.revoked', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'api_key', resourceId: keyId, meta: actor.meta },
          tx,
        );
        return revoked;
      });
    },

    /** What the presented key is: lets a partner check its integration. */
    whoami(actor: Actor): { apiKeyId: string; organizationId: string; scopes: readonly string[] } {
      if (actor.kind !== 'api_key') throw new AppError('unauthenticated', 'Send an API key in x-api-key or Authorization: Bearer');
      return { apiKeyId: actor.apiKeyId, organizationId: actor.organizationId, scopes: actor.scopes };
    },
  };
}
export type ApiKeyService = ReturnType<typeof createApiKeyService>;
export { apiKeyScopes };
