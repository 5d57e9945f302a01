import { betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { bearer } from 'better-auth/plugins';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { newId } from '../../core/ids.ts';
import { accounts, sessions, users, verifications } from './identity.schema.ts';

export interface AuthHooks {
  sendVerificationEmail(user: { id: string; email: string; name: string }, token: string): Promise<void>;
  sendResetPassword(user: { id: string; email: string; name: string }, token: string): Promise<void>;
  afterEmailVerification(userId: string): Promise<void>;
  afterPasswordReset(userId: string): Promise<void>;
}

/**
 * BetterAuth does authentication: credentials (scrypt hashes), sign-in sessions, e-mail
 * verification and password reset. Fanfare calls it through `auth.api.*` from its own routes, so
 * every auth endpoint has our validation, errors, rate limits and audit records.
 */
export function createAuth(config: Config, db: Db, hooks: AuthHooks) {
  return betterAuth({
    appName: 'Fanfare',
    baseURL: config.publicUrl,
    basePath: '/v1/auth',
    secret: config.authSecret,
    trustedOrigins: [...config.trustedOrigins],
    telemetry: { enabled: false },
    logger: { disabled: config.env === 'test' },
    database: drizzleAdapter(db, {
      provider: 'pg',
      usePlural: true,
      schema: { users, sessions, accounts, verifications },
    }),
    advanced: {
      cookiePrefix: 'fanfare',
      useSecureCookies: config.publicUrl.startsWith('https://'),
      database: { generateId: () => newId() },
      ipAddress: { ipAddressHeaders: ['x-fanfare-client-ip'] },
    },
    // Fanfare rate-limits the routes itself (per account and IP), see identity.routes.ts.
    rateLimit: { enabled: false },
    user: {
      additionalFields: {
        role: { type: 'string', input: false, defaultValue: 'customer', required: false },
        status: { type: 'string', input: false, defaultValue: 'active', required: false },
      },
    },
    session: { expiresIn: 60 * 60 * 24 * 30, updateAge: 60 * 60 * 24 },
    emailAndPassword: {
      enabled: true,
      minPasswordLength: 10,
      maxPasswordLength: 128,
      autoSignIn: true,
      revokeSessionsOnPasswordReset: true,
      resetPasswordTokenExpiresIn: 60 * 60,
      sendResetPassword: async ({ user, token }) => hooks.sendResetPassword(user, token),
      onPasswordReset: async ({ user }) => hooks.afterPasswordReset(user.id),
    },
    emailVerification: {
      sendOnSignUp: true,
      expiresIn: 60 * 60 * 24,
      sendVerificationEmail: async ({ user, token }) => hooks.sendVerificationEmail(user, token),
      afterEmailVerification: async (user) => hooks.afterEmailVerification(user.id),
    },
    plugins: [bearer()],
  });
}

export type Auth = ReturnType<typeof createAuth>;
