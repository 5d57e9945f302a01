import { createHash, randomBytes } from 'node:crypto';
import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, isUniqueViolation, notFound } from '../../core/errors.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import { escapeHtml } from '../identity/index.ts';
import type { MailService } from '../mail/index.ts';
import type { MemberRole } from './organizations.schema.ts';
import type {
  ClientAccount,
  Invitation,
  Member,
  MemberWithUser,
  Organization,
  OrganizationRepository,
} from './organizations.repository.ts';

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return s || 'org';
}

export interface OrganizationInput {
  name: string;
  slug?: string | undefined;
  type?: 'individual' | 'creator' | 'seller' | 'agency' | 'partner' | 'enterprise' | undefined;
  logoUrl?: string | null | undefined;
  website?: string | null | undefined;
  industry?: string | null | undefined;
  companySize?: '1-10' | '11-50' | '51-200' | '201-500' | '500+' | null | undefined;
  settings?: Record<string, unknown> | undefined;
}

export interface ClientInput {
  name: string;
  slug?: string | undefined;
  contactEmail?: string | null | undefined;
  contactPhone?: string | null | undefined;
  logoUrl?: string | null | undefined;
  brandColors?: { primary?: string | undefined; secondary?: string | undefined } | null | undefined;
  settings?: Record<string, unknown> | undefined;
}

/** Roles an admin may hand out; only the owner may create other admins. */
const assignableBy: Record<MemberRole, readonly MemberRole[]> = {
  owner: ['admin', 'manager', 'creator', 'client'],
  admin: ['manager', 'creator', 'client'],
  manager: [],
  creator: [],
  client: [],
};

export function createOrganizationService(deps: {
  db: Db;
  repo: OrganizationRepository;
  access: Access;
  audit: AuditService;
  mail: MailService;
  publicUrl: string;
}) {
  const { db, repo, access, audit, mail, publicUrl } = deps;

  const mustGetOrg = async (id: string): Promise<Organization> => {
    const org = await repo.getById(id);
    if (!org) throw notFound('Organization');
    return org;
  };

  const checkAssignable = (actorRole: MemberRole | undefined, role: MemberRole) => {
    if (!actorRole || !assignableBy[actorRole].includes(role)) {
      throw new AppError('forbidden', `Your role (${actorRole ?? 'none'}) cannot grant the ${role} role`);
    }
  };

  const checkClientLink = async (orgId: string, role: MemberRole, clientAccountId: string | null | undefined, tx?: Executor) => {
    if (role === 'client') {
      if (!clientAccountId) {
        throw new AppError('bad_request', 'A client member needs a clientAccountId', { fields: [{ path: 'body.clientAccountId', message: 'required for role client' }] });
      }
      if (!(await repo.getClient(orgId, clientAccountId, tx))) throw notFound('Client account');
    } else if (clientAccountId) {
      throw new AppError('bad_request', 'Only client members belong to a client account', { fields: [{ path: 'body.clientAccountId', message: 'only for role client' }] });
    }
  };

  return {
    async create(actor: Actor, input: OrganizationInput): Promise<Organization> {
      const user = access.requireUser(actor);
      let slug = input.slug ?? slugify(input.name);
      if (!input.slug) {
        // A generated slug that is taken gets a short suffix; a chosen one that is taken is a 409.
        for (let i = 0; i < 5 && (await repo.slugTaken(slug)); i++) slug = `${slugify(input.name).slice(0, 54)}-${randomBytes(3).toString('hex')}`;
      }
      try {
        return await db.transaction(async (tx) => {
          const org = await repo.create(
            {
              name: input.name,
              slug,
              ownerId: user.userId,
              type: input.type ?? 'individual',
              logoUrl: input.logoUrl ?? null,
              website: input.website ?? null,
              industry: input.industry ?? null,
              companySize: input.companySize ?? null,
              settings: input.settings ?? {},
            },
            tx,
          );
          await repo.addMember({ organizationId: org.id, userId: user.userId, role: 'owner', status: 'active', joinedAt: new Date() }, tx);
          await audit.record({ action: 'organization.created', userId: user.userId, organizationId: org.id, resourceType: 'organization', resourceId: org.id, meta: user.meta }, tx);
          return org;
        });
      } catch (err) {
        if (isUniqueViolation(err, 'organizations_slug_unique')) {
          throw new AppError('conflict', `The slug "${slug}" is taken`, { code: 'slug_taken', fields: [{ path: 'body.slug', message: 'taken' }] });
        }
        throw err;
      }
    },

    async listMine(actor: Actor) {
      const user = access.requireUser(actor);
      return repo.listForUser(user.userId);
    },

    async get(actor: Actor, orgId: string): Promise<Organization> {
      await access.requireOrg(actor, orgId, 'org.read');
      return mustGetOrg(orgId);
    },

    async update(actor: Actor, orgId: string, patch: Partial<OrganizationInput>): Promise<Organization> {
      await access.requireOrg(actor, orgId, 'org.update');
      try {
        const updated = await repo.update(orgId, patch);
        if (!updated) throw notFound('Organization');
        await audit.record({
          action: 'organization.updated',
          userId: actor.kind === 'user' ? actor.userId : null,
          organizationId: orgId,
          resourceType: 'organization',
          resourceId: orgId,
          meta: actor.meta,
          metadata: { fields: Object.keys(patch) },
        });
        return updated;
      } catch (err) {
        if (isUniqueViolation(err, 'organizations_slug_unique')) {
          throw new AppError('conflict', `The slug "${patch.slug}" is taken`, { code: 'slug_taken', fields: [{ path: 'body.slug', message: 'taken' }] });
        }
        throw err;
      }
    },

    async remove(actor: Actor, orgId: string): Promise<void> {
      await access.requireOrg(actor, orgId, 'org.delete');
      await db.transaction(async (tx) => {
        await repo.softDelete(orgId, tx);
        await audit.record({ action: 'organization.deleted', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'organization', resourceId: orgId, meta: actor.meta }, tx);
      });
    },

    // members

    async listMembers(actor: Actor, orgId: string, q: PageQuery): Promise<Page<MemberWithUser>> {
      await access.requireOrg(actor, orgId, 'members.read');
      return toPage(await repo.listMembers(orgId, { before: decodeCursor(q.cursor), limit: q.limit }), q.limit);
    },

    async changeMemberRole(actor: Actor, orgId: string, memberId: string, role: MemberRole, clientAccountId?: string | null): Promise<Member> {
      const me = await access.requireOrg(actor, orgId, 'members.manage');
      return db.transaction(async (tx) => {
        const member = await repo.getMember(orgId, memberId, tx);
        if (!member) throw notFound('Member');
        if (member.role === 'owner') throw new AppError('conflict', "The owner's role cannot be changed", { code: 'owner_role' });
        checkAssignable(me?.role, role);
        if (me?.role !== 'owner' && member.role === 'admin') throw new AppError('forbidden', 'Only the owner can change an admin');
        await checkClientLink(orgId, role, role === 'client' ? (clientAccountId ?? member.clientAccountId) : clientAccountId, tx);
        const updated = (await repo.updateMember(member.id, { role, clientAccountId: role === 'client' ? (clientAccountId ?? member.clientAccountId) : null }, tx))!;
        await audit.record(
          { action: 'member.role_changed', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'team_member', resourceId: member.id, meta: actor.meta, metadata: { memberUserId: member.userId, from: member.role, to: role } },
          tx,
        );
        return updated;
      });
    },

    /** Removes a member (or lets a member leave). Access ends with this transaction. */
    async removeMember(actor: Actor, orgId: string, memberId: string): Promise<void> {
      const user = access.requireUser(actor);
      await access.requireOrg(actor, orgId, 'org.read');
      const target = await repo.getMember(orgId, memberId);
      if (!target) throw notFound('Member');
      const leaving = target.userId === user.userId;
      if (!leaving) {
        const me = await access.requireOrg(actor, orgId, 'members.manage');
        if (me?.role !== 'owner' && target.role === 'admin') throw new AppError('forbidden', 'Only the owner can remove an admin');
      }
      if (target.role === 'owner') throw new AppError('conflict', 'The owner cannot be removed; delete the organization instead', { code: 'owner_removal' });
      await db.transaction(async (tx) => {
        const member = await repo.getMember(orgId, memberId, tx);
        if (!member) throw notFound('Member');
        await repo.deleteMember(member.id, tx);
        await audit.record(
          { action: 'member.removed', userId: user.userId, organizationId: orgId, resourceType: 'team_member', resourceId: member.id, meta: user.meta, metadata: { memberUserId: member.userId, left: leaving } },
          tx,
        );
      });
    },

    // invitations

    async invite(actor: Actor, orgId: string, input: { email: string; role: MemberRole; clientAccountId?: string | undefined }): Promise<Invitation> {
      const me = await access.requireOrg(actor, orgId, 'invitations.manage');
      const user = access.requireUser(actor);
      checkAssignable(me?.role, input.role);
      await checkClientLink(orgId, input.role, input.clientAccountId);
      const org = await mustGetOrg(orgId);
      const email = input.email.toLowerCase();
      const token = randomBytes(32).toString('base64url');
      try {
        return await db.transaction(async (tx) => {
          if (await repo.findMemberByEmail(orgId, email, tx)) {
            throw new AppError('conflict', `${email} is already a member`, { code: 'already_member' });
          }
          await repo.expireInvitations(orgId, tx);
          const invitation = await repo.createInvitation(
            {
              organizationId: orgId,
              email,
              role: input.role,
              clientAccountId: input.clientAccountId ?? null,
              tokenHash: sha256(token),
              invitedBy: user.userId,
              expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
            },
            tx,
          );
          const link = `${publicUrl}/v1/invitations/accept?token=${token}`;
          await mail.queue(
            {
              to: email,
              type: 'organization_invitation',
              subject: `You are invited to join ${org.name} on Fanfare`,
              text: `You have been invited to join ${org.name} as ${input.role}.\n\nSign in (or sign up with this e-mail address) and accept within 7 days:\n\nPOST ${publicUrl}/v1/invitations/accept with {"token": "${token}"}\n\n${link}`,
              html: `<p>You have been invited to join <strong>${escapeHtml(org.name)}</strong> as ${input.role}.</p><p>Sign in with this e-mail address and accept within 7 days with the token <code>${token}</code>.</p>`,
            },
            tx,
          );
          await audit.record(
            { action: 'invitation.created', userId: user.userId, organizationId: orgId, resourceType: 'invitation', resourceId: invitation.id, meta: user.meta, metadata: { email, role: input.role } },
            tx,
          );
          return invitation;
        });
      } catch (err) {
        if (isUniqueViolation(err, 'invitations_pending_email_unique')) {
          throw new AppError('conflict', `${email} already has a pending invitation`, { code: 'invitation_pending' });
        }
        throw err;
      }
    },

    async listInvitations(actor: Actor, orgId: string, q: PageQuery & { status?: Invitation['status'] | undefined }): Promise<Page<Invitation>> {
      await access.requireOrg(actor, orgId, 'invitations.manage');
      await repo.expireInvitations(orgId);
      return toPage(await repo.listInvitations(orgId, { status: q.status, before: decodeCursor(q.cursor), limit: q.limit }), q.limit);
    },

    async revokeInvitation(actor: Actor, orgId: string, invitationId: string): Promise<Invitation> {
      await access.requireOrg(actor, orgId, 'invitations.manage');
      return db.transaction(async (tx) => {
        const inv = await repo.getInvitation(orgId, invitationId, tx);
        if (!inv) throw notFound('Invitation');
        if (inv.status !== 'pending') throw new AppError('conflict', `The invitation is already ${inv.status}`, { code: `invitation_${inv.status}` });
        const updated = (await repo.updateInvitation(inv.id, { status: 'revoked', revokedAt: new Date() }, tx))!;
        await audit.record(
          { action: 'invitation.revoked', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'invitation', resourceId: inv.id, meta: actor.meta },
          tx,
        );
        return updated;
      });
    },

    /** The invitee, signed in with the invited e-mail address, joins with the mailed token. */
    async acceptInvitation(actor: Actor, token: string): Promise<Member> {
      const user = access.requireUser(actor);
      const result = await db.transaction(async (tx) => {
        const inv = await repo.getInvitationByTokenHash(sha256(token), tx);
        if (!inv) throw notFound('Invitation');
        if (inv.status !== 'pending') throw new AppError('gone', `The invitation was ${inv.status}`, { code: `invitation_${inv.status}` });
        if (inv.expiresAt.getTime() <= Date.now()) {
          // Returned, not thrown, so that the transaction commits the new status.
          await repo.updateInvitation(inv.id, { status: 'expired' }, tx);
          return 'expired' as const;
        }
        if (inv.email !== user.email.toLowerCase()) {
          throw new AppError('forbidden', 'This invitation was sent to another e-mail address', { code: 'invitation_email_mismatch' });
        }
        if (!(await repo.getById(inv.organizationId, tx))) throw notFound('Organization');
        if (await repo.findMemberByUser(inv.organizationId, user.userId, tx)) {
          throw new AppError('conflict', 'You are already a member of this organization', { code: 'already_member' });
        }
        const member = await repo.addMember(
          {
            organizationId: inv.organizationId,
            userId: user.userId,
            role: inv.role,
            clientAccountId: inv.clientAccountId,
            invitedBy: inv.invitedBy,
            invitedAt: inv.createdAt,
            joinedAt: new Date(),
            status: 'active',
          },
          tx,
        );
        await repo.updateInvitation(inv.id, { status: 'accepted', acceptedAt: new Date(), acceptedBy: user.userId }, tx);
        await audit.record(
          { action: 'invitation.accepted', userId: user.userId, organizationId: inv.organizationId, resourceType: 'invitation', resourceId: inv.id, meta: user.meta, metadata: { role: inv.role } },
          tx,
        );
        return member;
      });
      if (result === 'expired') throw new AppError('gone', 'The invitation has expired', { code: 'invitation_expired' });
      return result;
    },

    // client accounts (agencies)

    async createClient(actor: Actor, orgId: string, input: ClientInput): Promise<ClientAccount> {
      await access.requireOrg(actor, orgId, 'clients.manage');
      const org = await mustGetOrg(orgId);
      if (org.type !== 'agency' && org.type !== 'enterprise') {
        throw new AppError('conflict', `Client accounts belong to agency organizations; this one is ${org.type}`, { code: 'not_an_agency' });
      }
      const slug = input.slug ?? slugify(input.name);
      try {
        return await db.transaction(async (tx) => {
          const client = await repo.createClient(
            {
              organizationId: orgId,
              name: input.name,
              slug,
              contactEmail: input.contactEmail ?? null,
              contactPhone: input.contactPhone ?? null,
              logoUrl: input.logoUrl ?? null,
              brandColors: input.brandColors ?? null,
              settings: input.settings ?? {},
            },
            tx,
          );
          await audit.record(
            { action: 'client.created', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'client_account', resourceId: client.id, meta: actor.meta },
            tx,
          );
          return client;
        });
      } catch (err) {
        if (isUniqueViolation(err, 'client_accounts_org_slug_unique')) {
          throw new AppError('conflict', `A client with the slug "${slug}" exists`, { code: 'slug_taken', fields: [{ path: 'body.slug', message: 'taken' }] });
        }
        throw err;
      }
    },

    /** Client members see only their own client account. */
    async listClients(actor: Actor, orgId: string, q: PageQuery): Promise<Page<ClientAccount>> {
      const membership = await access.requireOrg(actor, orgId, 'clients.read');
      const onlyId = membership?.role === 'client' ? membership.clientAccountId : undefined;
      return toPage(await repo.listClients(orgId, { onlyId, before: decodeCursor(q.cursor), limit: q.limit }), q.limit);
    },

    async getClient(actor: Actor, orgId: string, clientId: string): Promise<ClientAccount> {
      const membership = await access.requireOrg(actor, orgId, 'clients.read');
      if (membership?.role === 'client' && membership.clientAccountId !== clientId) throw notFound('Client account');
      const client = await repo.getClient(orgId, clientId);
      if (!client) throw notFound('Client account');
      return client;
    },

    async updateClient(actor: Actor, orgId: string, clientId: string, patch: Partial<ClientInput>): Promise<ClientAccount> {
      await access.requireOrg(actor, orgId, 'clients.manage');
      if (!(await repo.getClient(orgId, clientId))) throw notFound('Client account');
      try {
        const updated = await repo.updateClient(clientId, patch);
        if (!updated) throw notFound('Client account');
        return updated;
      } catch (err) {
        if (isUniqueViolation(err, 'client_accounts_org_slug_unique')) {
          throw new AppError('conflict', `A client with the slug "${patch.slug}" exists`, { code: 'slug_taken' });
        }
        throw err;
      }
    },

    async removeClient(actor: Actor, orgId: string, clientId: string): Promise<void> {
      await access.requireOrg(actor, orgId, 'clients.manage');
      await db.transaction(async (tx) => {
        const client = await repo.getClient(orgId, clientId, tx);
        if (!client) throw notFound('Client account');
        await repo.updateClient(clientId, { deletedAt: new Date() }, tx);
        await audit.record(
          { action: 'client.deleted', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'client_account', resourceId: clientId, meta: actor.meta },
          tx,
        );
      });
    },
  };
}
export type OrganizationService = ReturnType<typeof createOrganizationService>;
