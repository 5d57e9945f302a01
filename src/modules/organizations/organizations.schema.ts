import { sql } from 'drizzle-orm';
import { check, index, jsonb, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';

export const organizationTypes = ['individual', 'creator', 'seller', 'agency', 'partner', 'enterprise'] as const;
export const companySizes = ['1-10', '11-50', '51-200', '201-500', '500+'] as const;
/** Organization roles, from most to least powerful; `client` is an agency's client's login. */
export const memberRoles = ['owner', 'admin', 'manager', 'creator', 'client'] as const;
export type MemberRole = (typeof memberRoles)[number];
export const memberStatuses = ['pending', 'active', 'inactive'] as const;
export const invitationStatuses = ['pending', 'accepted', 'revoked', 'expired'] as const;

export const organizations = pgTable(
  'organizations',
  {
    id: id(),
    name: varchar({ length: 255 }).notNull(),
    slug: varchar({ length: 255 }).notNull(),
    ownerId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    logoUrl: text(),
    website: varchar({ length: 255 }),
    industry: varchar({ length: 100 }),
    companySize: varchar({ length: 50 }),
    type: varchar({ length: 50 }).notNull().default('individual'),
    settings: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps(),
    deletedAt: tz(),
  },
  (t) => [
    uniqueIndex('organizations_slug_unique').on(t.slug),
    index('idx_orgs_owner').on(t.ownerId),
    check('organizations_type_check', oneOf(t.type, organizationTypes)),
    check('organizations_company_size_check', sql`${t.companySize} is null or ${oneOf(t.companySize, companySizes)}`),
    check('organizations_slug_format', sql`${t.slug} ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'`),
  ],
);

export const clientAccounts = pgTable(
  'client_accounts',
  {
    id: id(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: varchar({ length: 255 }).notNull(),
    slug: varchar({ length: 255 }).notNull(),
    contactEmail: varchar({ length: 255 }),
    contactPhone: varchar({ length: 20 }),
    logoUrl: text(),
    brandColors: jsonb().$type<{ primary?: string; secondary?: string }>(),
    settings: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps(),
    deletedAt: tz(),
  },
  (t) => [
    uniqueIndex('client_accounts_org_slug_unique').on(t.organizationId, t.slug),
    index('idx_clients_org').on(t.organizationId),
  ],
);

export const teamMembers = pgTable(
  'team_members',
  {
    id: id(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: varchar({ length: 50 }).notNull().$type<MemberRole>(),
    /** Extra grants on top of the role, e.g. {"billing.manage": true}. */
    permissions: jsonb().$type<Record<string, boolean>>().notNull().default({}),
    /** For role `client`: the client account this login belongs to. */
    clientAccountId: uuid().references(() => clientAccounts.id, { onDelete: 'set null' }),
    invitedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    invitedAt: tz(),
    joinedAt: tz(),
    status: varchar({ length: 20 }).notNull().default('active').$type<(typeof memberStatuses)[number]>(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('team_members_org_user_unique').on(t.organizationId, t.userId),
    index('idx_team_user').on(t.userId),
    check('team_members_role_check', oneOf(t.role, memberRoles)),
    check('team_members_status_check', oneOf(t.status, memberStatuses)),
  ],
);

export const invitations = pgTable(
  'invitations',
  {
    id: id(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    email: varchar({ length: 255 }).notNull(),
    role: varchar({ length: 50 }).notNull().$type<MemberRole>(),
    clientAccountId: uuid().references(() => clientAccounts.id, { onDelete: 'cascade' }),
    /** sha256 of the token mailed to the invitee; the token itself is never stored. */
    tokenHash: varchar({ length: 64 }).notNull(),
    status: varchar({ length: 20 }).notNull().default('pending').$type<(typeof invitationStatuses)[number]>(),
    invitedBy: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: tz().notNull(),
    acceptedAt: tz(),
    acceptedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    revokedAt: tz(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('invitations_token_hash_unique').on(t.tokenHash),
    uniqueIndex('invitations_pending_email_unique')
      .on(t.organizationId, t.email)
      .where(sql`status = 'pending'`),
    index('idx_invitations_org').on(t.organizationId),
    check('invitations_role_check', oneOf(t.role, memberRoles)),
    check('invitations_status_check', oneOf(t.status, invitationStatuses)),
  ],
);
