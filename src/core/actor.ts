import type { MemberRole } from '../modules/organizations/organizations.schema.ts';
import type { PlatformRole, UserStatus } from '../modules/identity/identity.schema.ts';

/** Who is making a request, resolved once per request and handed to every service call. */
export type Actor = UserActor | ApiKeyActor | PlatformActor | AnonymousActor;

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

export interface UserActor {
  kind: 'user';
  userId: string;
  email: string;
  role: PlatformRole;
  status: UserStatus;
  emailVerified: boolean;
  sessionId: string;
  meta: RequestMeta;
  /** Memberships looked up during this request, by organization id. */
  memberships: Map<string, Membership | null>;
}

export interface ApiKeyActor {
  kind: 'api_key';
  apiKeyId: string;
  organizationId: string;
  scopes: readonly string[];
  meta: RequestMeta;
}

/** A Pay as Play partner platform, authenticated by one of its platform API keys. */
export interface PlatformActor {
  kind: 'platform';
  platformKeyId: string;
  platformId: string;
  organizationId: string;
  meta: RequestMeta;
}

export interface AnonymousActor {
  kind: 'anonymous';
  meta: RequestMeta;
}

export interface Membership {
  memberId: string;
  organizationId: string;
  role: MemberRole;
  permissions: Record<string, boolean>;
  clientAccountId: string | null;
}

export const anonymous = (meta: RequestMeta): AnonymousActor => ({ kind: 'anonymous', meta });

export const actorUserId = (actor: Actor): string | null => (actor.kind === 'user' ? actor.userId : null);

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
}

export function actorScope(actor: Actor): string {
  switch (actor.kind) {
    case 'user':
      return `user:${actor.userId}`;
    case 'api_key':
      return `key:${actor.apiKeyId}`;
    case 'platform':
      // Per platform, not per key: a replay after a key rotation is still the same request.
      return `platform:${actor.platformId}`;
    case 'anonymous':
      return `ip:${actor.meta.ip ?? 'unknown'}`;
  }
}
