import { check, index, pgTable, text, uniqueIndex, varchar, boolean, uuid } from 'drizzle-orm/pg-core';
import { id, isLowercase, oneOf, timestamps, tz } from '../../db/columns.ts';

export const platformRoles = ['admin', 'creator', 'customer', 'partner', 'author'] as const;
export type PlatformRole = (typeof platformRoles)[number];
export const userStatuses = ['active', 'suspended', 'deleted'] as const;
export type UserStatus = (typeof userStatuses)[number];

/**
 * The union of the seeds' user columns. BetterAuth reads and writes it through the Drizzle
 * adapter, which matches on the property names (`name`, `image`, `emailVerified`), so those keep
 * BetterAuth's names while the columns keep the seeds' (`full_name`, `avatar_url`).
 */
export const users = pgTable(
  'users',
  {
    id: id(),
    email: varchar({ length: 255 }).notNull(),
    name: varchar('full_name', { length: 255 }).notNull(),
    emailVerified: boolean().notNull().default(false),
    emailVerifiedAt: tz(),
    image: text('avatar_url'),
    role: varchar({ length: 20 }).notNull().default('customer').$type<PlatformRole>(),
    status: varchar({ length: 20 }).notNull().default('active').$type<UserStatus>(),
    bio: text(),
    phone: varchar({ length: 20 }),
    countryCode: varchar({ length: 5 }),
    timezone: varchar({ length: 50 }).notNull().default('UTC'),
    language: varchar({ length: 10 }).notNull().default('en'),
    onboardingCompleted: boolean().notNull().default(false),
    lastLoginAt: tz(),
    ...timestamps(),
    deletedAt: tz(),
  },
  (t) => [
    uniqueIndex('users_email_unique').on(t.email),
    index('idx_users_role').on(t.role),
    index('idx_users_status').on(t.status),
    check('users_role_check', oneOf(t.role, platformRoles)),
    check('users_status_check', oneOf(t.status, userStatuses)),
    check('users_email_lowercase', isLowercase(t.email)),
  ],
);

/** Sign-in sessions (BetterAuth). Pay as Play's playback sessions live elsewhere. */
export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    token: varchar({ length: 500 }).notNull(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: tz().notNull(),
    ipAddress: varchar({ length: 45 }),
    userAgent: text(),
    ...timestamps(),
  },
  (t) => [uniqueIndex('sessions_token_unique').on(t.token), index('idx_sessions_user').on(t.userId)],
);

/** Credentials per provider; the e-mail/password account holds the scrypt password hash. */
export const accounts = pgTable(
  'accounts',
  {
    id: id(),
    accountId: text().notNull(),
    providerId: text().notNull(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    accessToken: text(),
    refreshToken: text(),
    idToken: text(),
    accessTokenExpiresAt: tz(),
    refreshTokenExpiresAt: tz(),
    scope: text(),
    password: text(),
    ...timestamps(),
  },
  (t) => [
    index('idx_accounts_user').on(t.userId),
    uniqueIndex('accounts_provider_account_unique').on(t.providerId, t.accountId),
  ],
);

/** One-time tokens (password reset and friends): the identifier holds the token, value the user id. */
export const verifications = pgTable(
  'verifications',
  {
    id: id(),
    identifier: text().notNull(),
    value: text().notNull(),
    expiresAt: tz().notNull(),
    ...timestamps(),
  },
  (t) => [index('idx_verifications_identifier').on(t.identifier)],
);

