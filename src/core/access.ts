import type { Actor, Membership, UserActor } from './actor.ts';
import { AppError } from './errors.ts';
import type { MemberRole } from '../modules/organizations/organizations.schema.ts';

/**
 * The closed set of organization permissions and the roles that hold them. API keys hold the
 * scopes they were created with, never more than their creator could grant.
 */
export const orgPermissions = {
  'org.read': ['owner', 'admin', 'manager', 'creator', 'client'],
  'org.update': ['owner', 'admin'],
  'org.delete': ['owner'],
  'members.read': ['owner', 'admin', 'manager', 'creator'],
  'members.manage': ['owner', 'admin'],
  'invitations.manage': ['owner', 'admin'],
  'clients.read': ['owner', 'admin', 'manager', 'creator', 'client'],
  'clients.manage': ['owner', 'admin', 'manager'],
  'apikeys.manage': ['owner', 'admin'],
  'audit.read': ['owner', 'admin'],
  /** Invoices the organization issued, and those it received as a customer. */
  'invoices.read': ['owner', 'admin', 'manager'],
  /** Write, send, void and mark paid the organization's invoices; pay those it received. */
  'invoices.manage': ['owner', 'admin'],
  /** Pay as Play: connect the organization's Moodle or Canvas sites and sync their courses. */
  'lms.manage': ['owner', 'admin', 'manager'],
  /** Request, list and cancel payouts from the organization's wallets. */
  'payouts.manage': ['owner', 'admin'],
  // Pay as Play partners: register platforms and their keys, see them, see earnings.
  'platforms.manage': ['owner', 'admin'],
  'platforms.read': ['owner', 'admin', 'manager'],
  'earnings.read': ['owner', 'admin'],
  'media.read': ['owner', 'admin', 'manager', 'creator'],
  'media.manage': ['owner', 'admin', 'manager', 'creator'],
  'content.read': ['owner', 'admin', 'manager', 'creator'],
  'content.manage': ['owner', 'admin', 'manager', 'creator'],
  'settings.manage': ['owner', 'admin'],
  'sales.read': ['owner', 'admin', 'manager'],
  'sales.manage': ['owner', 'admin'],
} as const satisfies Record<string, readonly MemberRole[]>;
export type OrgPermission = keyof typeof orgPermissions;
export const orgPermissionNames = Object.keys(orgPermissions) as OrgPermission[];

/** Permissions an API key may carry (partner integrations). */
export const apiKeyScopes = ['org.read', 'clients.read', 'members.read'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

export type MembershipLookup = (userId: string, organizationId: string) => Promise<Membership | null>;

export interface Access {
  /** A signed-in, active user; throws 401/403 otherwise. */
  requireUser(actor: Actor): UserActor;
  /** A platform operator (role admin). */
  requirePlatformAdmin(actor: Actor): UserActor;
  /**
   * The one organization check: the actor is an active member whose role grants `permission`,
   * or an API key of that organization carrying it as a scope. Returns the membership for users.
   * An organization the actor cannot see answers 404, so ids of other tenants leak nothing.
   */
  requireOrg(actor: Actor, organizationId: string, permission: OrgPermission): Promise<Membership | null>;
}

export function roleHas(role: MemberRole, permission: OrgPermission, extra: Record<string, boolean> = {}): boolean {
  if (extra[permission] === false) return false;
  return (orgPermissions[permission] as readonly MemberRole[]).includes(role) || extra[permission] === true;
}

export function createAccess(lookup: MembershipLookup): Access {
  const requireUser = (actor: Actor): UserActor => {
    if (actor.kind !== 'user') {
      throw actor.kind === 'anonymous'
        ? new AppError('unauthenticated', 'Sign in to do this')
        : new AppError('forbidden', `This needs a signed-in user, not ${actor.kind === 'platform' ? 'a platform' : 'an'} API key`);
    }
    if (actor.status !== 'active') throw new AppError('forbidden', `Your account is ${actor.status}`);
    return actor;
  };
  return {
    requireUser,
    requirePlatformAdmin(actor) {
      const user = requireUser(actor);
      if (user.role !== 'admin') throw new AppError('forbidden', 'Only platform operators can do this');
      return user;
    },
    async requireOrg(actor, organizationId, permission) {
      if (actor.kind === 'platform') throw new AppError('forbidden', 'A platform API key cannot manage organizations');
      if (actor.kind === 'api_key') {
        if (actor.organizationId !== organizationId) throw new AppError('not_found', 'Organization not found');
        if (!actor.scopes.includes(permission)) {
          throw new AppError('forbidden', `This API key lacks the ${permission} scope`);
        }
        return null;
      }
      const user = requireUser(actor);
      let membership = user.memberships.get(organizationId);
      if (membership === undefined) {
        membership = await lookup(user.userId, organizationId);
        user.memberships.set(organizationId, membership);
      }
      if (!membership) throw new AppError('not_found', 'Organization not found');
      if (!roleHas(membership.role, permission, membership.permissions)) {
        throw new AppError('forbidden', `Your role (${membership.role}) does not allow ${permission}`);
      }
      return membership;
    },
  };
}
