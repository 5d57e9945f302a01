import { APIError } from 'better-auth/api';
import type { Access } from '../../core/access.ts';
import type { Actor, RequestMeta, UserActor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import type { MailService } from '../mail/index.ts';
import type { Auth } from './auth.ts';
import type { PlatformRole, UserStatus } from './identity.schema.ts';
import type { IdentityRepository, ProfilePatch, Session, User } from './identity.repository.ts';
import { presentedSession, sign, type RequestCredentials, type SessionCookieNames } from './session-token.ts';

export interface ResolvedSession {
  actor: UserActor;
  /** A Set-Cookie value when a cookie session was extended, else null. */
  setCookie: string | null;
}

interface SessionSettings {
  names: SessionCookieNames;
  secret: string;
  expiresIn: number;
  updateAge: number;
  sessionCookie(token: string): string;
}

type AuthContext = Awaited<Auth['$context']>;

function sessionSettingsOf(ctx: AuthContext): SessionSettings {
  const { sessionToken, dontRememberToken } = ctx.authCookies;
  const { expiresIn, updateAge } = ctx.sessionConfig;
  const a = sessionToken.attributes;
  // The attributes BetterAuth's setSessionCookie writes (better-call's cookie serializer).
  const attributes = [
    `Max-Age=${Math.floor(expiresIn)}`,
    ...(a.domain ? [`Domain=${a.domain}`] : []),
    ...(a.path ? [`Path=${a.path}`] : []),
    ...(a.httpOnly ? ['HttpOnly'] : []),
    ...(a.secure ? ['Secure'] : []),
    ...(a.sameSite ? [`SameSite=${a.sameSite.charAt(0).toUpperCase()}${a.sameSite.slice(1)}`] : []),
    ...(a.partitioned ? ['Partitioned'] : []),
  ].join('; ');
  return {
    names: { sessionToken: sessionToken.name, dontRemember: dontRememberToken.name },
    secret: ctx.secret,
    expiresIn,
    updateAge,
    sessionCookie: (token) => `${sessionToken.name}=${encodeURIComponent(sign(token, ctx.secret))}; ${attributes}`,
  };
}

/** Roles a person may choose when signing up; `admin` only comes from an operator or the CLI. */
export const selfServiceRoles = ['customer', 'creator', 'partner', 'author'] as const;

export interface AuthResult {
  user: User;
  token: string;
  /** Set-Cookie headers for the browser session. */
  cookies: string[];
}

/**
 * Turns a BetterAuth failure into our error kinds. BetterAuth speaks HTTP statuses; we keep its
 * message, which names the problem, and never leak more than it does.
 */
function fromAuthError(err: unknown): never {
  if (err instanceof APIError) {
    const body = (err.body ?? {}) as { message?: string; code?: string };
    const message = body.message ?? err.message;
    const code = body.code?.toLowerCase();
    switch (err.statusCode) {
      case 400:
        throw new AppError('bad_request', message, code ? { code } : {});
      case 401:
        throw new AppError('unauthenticated', message, code ? { code } : {});
      case 403:
        throw new AppError('forbidden', message, code ? { code } : {});
      case 404:
        throw new AppError('not_found', message, code ? { code } : {});
      case 422:
        if (body.code === 'USER_ALREADY_EXISTS' || body.code === 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL') {
          throw new AppError('conflict', 'An account with this e-mail already exists', { code: 'email_taken' });
        }
        throw new AppError('unprocessable', message, code ? { code } : {});
      case 429:
        throw new AppError('rate_limited', message);
      default:
        break;
    }
  }
  throw err;
}

const cookiesOf = (headers: Headers | undefined): string[] => headers?.getSetCookie() ?? [];

export function createIdentityService(deps: {
  db: Db;
  auth: Auth;
  repo: IdentityRepository;
  access: Access;
  audit: AuditService;
  mail: MailService;
  publicUrl: string;
}) {
  const { db, auth, repo, access, audit } = deps;

  // BetterAuth's own view of its cookies, secret and session lifetimes, read once.
  let settingsPromise: Promise<SessionSettings> | undefined;
  const sessionSettings = () => (settingsPromise ??= auth.$context.then(sessionSettingsOf));

  const getUser = async (id: string): Promise<User> => {
    const user = await repo.getById(id);
    if (!user || user.status === 'deleted') throw notFound('User');
    return user;
  };

  return {
    /**
     * The signed-in user of a request, from its session cookie or bearer token; null when there
     * is none or it is not valid. Every authenticated request comes through here, so instead of
     * BetterAuth's getSession it does the same checks in one prepared query (see session-token.ts
     * for how the token is read): the session must exist and not have expired (an expired one is
     * deleted, as BetterAuth does), and its user is read in the same row, so sign-out, revocation,
     * suspension and deletion count from the next request on. Nothing is cached across requests.
     *
     * BetterAuth's updateAge rule is kept: once a day of a session's life has passed since it was
     * last extended, it is extended to a full `expiresIn` again, unless the person chose not to be
     * remembered. For a cookie session the refreshed cookie is returned to set on the response
     * (BetterAuth's getSession made one too, but it never reached the browser).
     */
    async resolveSession(credentials: RequestCredentials, meta: RequestMeta): Promise<ResolvedSession | null> {
      const settings = await sessionSettings();
      const presented = presentedSession(credentials, settings.names, settings.secret);
      if (!presented) return null;
      const row = await repo.sessionByToken(presented.token);
      if (!row) return null;
      const now = Date.now();
      if (row.expiresAt.getTime() < now) {
        await repo.deleteSessionByToken(presented.token);
        return null;
      }
      let setCookie: string | null = null;
      const { expiresIn, updateAge } = settings;
      if (!presented.dontRemember && row.expiresAt.getTime() - expiresIn * 1000 + updateAge * 1000 <= now) {
        if (!(await repo.extendSession(presented.token, new Date(now + expiresIn * 1000)))) return null;
        if (presented.source === 'cookie') setCookie = settings.sessionCookie(presented.token);
      }
      return {
        actor: {
          kind: 'user',
          userId: row.userId,
          email: row.email,
          role: row.role,
          status: row.status,
          emailVerified: row.emailVerified,
          sessionId: row.sessionId,
          meta,
          memberships: new Map(),
        },
        setCookie,
      };
    },

    async signUp(
      input: { email: string; password: string; name: string; role?: (typeof selfServiceRoles)[number] | undefined },
      credentials: Headers,
      meta: RequestMeta,
    ): Promise<AuthResult> {
      const result = await auth.api
        .signUpEmail({ body: { email: input.email, password: input.password, name: input.name }, headers: credentials, returnHeaders: true })
        .catch(fromAuthError);
      const userId = result.response.user.id;
      const user = input.role && input.role !== 'customer' ? await repo.update(userId, { role: input.role }) : await repo.getById(userId);
      await audit.record({ action: 'user.signed_up', userId, resourceType: 'user', resourceId: userId, meta, metadata: { role: user!.role } });
      return { user: user!, token: result.response.token ?? '', cookies: cookiesOf(result.headers) };
    },

    async signIn(input: { email: string; password: string; rememberMe?: boolean | undefined }, credentials: Headers, meta: RequestMeta): Promise<AuthResult> {
      let result;
      try {
        result = await auth.api.signInEmail({
          body: { email: input.email, password: input.password, rememberMe: input.rememberMe ?? true },
          headers: credentials,
          returnHeaders: true,
        });
      } catch (err) {
        if (err instanceof APIError && (err.statusCode === 401 || err.statusCode === 403)) {
          const known = await repo.getByEmail(input.email);
          await audit.record({
            action: 'auth.sign_in_failed',
            userId: known?.id ?? null,
            resourceType: 'user',
            resourceId: known?.id ?? null,
            meta,
            metadata: { email: input.email },
          });
          throw new AppError('unauthenticated', 'Invalid e-mail or password', { code: 'invalid_credentials' });
        }
        return fromAuthError(err);
      }
      const user = await repo.getById(result.response.user.id);
      if (!user || user.status !== 'active') {
        // BetterAuth has already made a session; a suspended or deleted account must not keep it.
        await repo.deleteSessions(result.response.user.id);
        await audit.record({ action: 'auth.sign_in_failed', userId: result.response.user.id, resourceType: 'user', resourceId: result.response.user.id, meta, metadata: { reason: user?.status ?? 'missing' } });
        if (user?.status === 'suspended') throw new AppError('forbidden', 'This account is suspended', { code: 'account_suspended' });
        // A deleted account answers like a wrong password: it no longer exists for sign-in.
        throw new AppError('unauthenticated', 'Invalid e-mail or password', { code: 'invalid_credentials' });
      }
      await repo.touchLastLogin(user.id);
      await audit.record({ action: 'auth.signed_in', userId: user.id, resourceType: 'user', resourceId: user.id, meta });
      return { user, token: result.response.token, cookies: cookiesOf(result.headers) };
    },

    async signOut(actor: Actor, credentials: Headers): Promise<string[]> {
      const user = access.requireUser(actor);
      const result = await auth.api.signOut({ headers: credentials, returnHeaders: true }).catch(fromAuthError);
      await audit.record({ action: 'auth.signed_out', userId: user.userId, resourceType: 'user', resourceId: user.userId, meta: user.meta });
      return cookiesOf(result.headers);
    },

    async verifyEmail(token: string, meta: RequestMeta): Promise<void> {
      await auth.api.verifyEmail({ query: { token } }).catch((err: unknown) => {
        if (err instanceof APIError) throw new AppError('bad_request', 'The verification link is invalid or has expired', { code: 'invalid_token' });
        throw err;
      });
      void meta;
    },

    async resendVerification(actor: Actor): Promise<void> {
      const user = access.requireUser(actor);
      if (user.emailVerified) throw new AppError('conflict', 'Your e-mail address is already verified', { code: 'already_verified' });
      await auth.api.sendVerificationEmail({ body: { email: user.email } }).catch(fromAuthError);
    },

    /** Always succeeds, so the answer does not tell whether an account exists. */
    async requestPasswordReset(email: string, meta: RequestMeta): Promise<void> {
      await auth.api.requestPasswordReset({ body: { email } }).catch(fromAuthError);
      const user = await repo.getByEmail(email);
      if (user) await audit.record({ action: 'auth.password_reset_requested', userId: user.id, resourceType: 'user', resourceId: user.id, meta });
    },

    async resetPassword(token: string, newPassword: string): Promise<void> {
      await auth.api.resetPassword({ body: { token, newPassword } }).catch((err: unknown) => {
        if (err instanceof APIError && err.statusCode === 400 && /token/i.test(String((err.body as { message?: string })?.message))) {
          throw new AppError('bad_request', 'The reset token is invalid or has expired', { code: 'invalid_token' });
        }
        return fromAuthError(err);
      });
    },

    async changePassword(
      actor: Actor,
      credentials: Headers,
      input: { currentPassword: string; newPassword: string; revokeOtherSessions?: boolean | undefined },
    ): Promise<void> {
      const user = access.requireUser(actor);
      await auth.api
        .changePassword({
          body: { currentPassword: input.currentPassword, newPassword: input.newPassword, revokeOtherSessions: false },
          headers: credentials,
        })
        .catch((err: unknown) => {
          if (err instanceof APIError && err.statusCode === 400) {
            throw new AppError('bad_request', 'The current password is wrong', {
              code: 'invalid_password',
              fields: [{ path: 'body.currentPassword', message: 'wrong password' }],
            });
          }
          return fromAuthError(err);
        });
      if (input.revokeOtherSessions ?? true) await repo.deleteSessions(user.userId, user.sessionId);
      await audit.record({ action: 'auth.password_changed', userId: user.userId, resourceType: 'user', resourceId: user.userId, meta: user.meta });
    },

    async me(actor: Actor): Promise<User> {
      const user = access.requireUser(actor);
      return getUser(user.userId);
    },

    async updateProfile(actor: Actor, patch: ProfilePatch): Promise<User> {
      const user = access.requireUser(actor);
      const updated = await repo.update(user.userId, patch);
      if (!updated) throw notFound('User');
      return updated;
    },

    /**
     * Deletes the account: the row is kept (soft delete) for the records that point at it, the
     * person can no longer sign in, and every session ends now. The password confirms intent.
     */
    async deleteAccount(actor: Actor, credentials: Headers, password: string): Promise<void> {
      const user = access.requireUser(actor);
      const ok = await auth.api
        .verifyPassword({ body: { password }, headers: credentials })
        .then(() => true)
        .catch(() => false);
      if (!ok) {
        throw new AppError('bad_request', 'The password is wrong', { code: 'invalid_password', fields: [{ path: 'body.password', message: 'wrong password' }] });
      }
      await db.transaction(async (tx) => {
        await repo.softDelete(user.userId, tx);
        await repo.deleteSessions(user.userId, undefined, tx);
        await audit.record({ action: 'user.status_changed', userId: user.userId, resourceType: 'user', resourceId: user.userId, meta: user.meta, metadata: { to: 'deleted', by: 'self' } }, tx);
      });
    },

    async listSessions(actor: Actor): Promise<(Session & { current: boolean })[]> {
      const user = access.requireUser(actor);
      const rows = await repo.listSessions(user.userId);
      return rows.map((s) => ({ ...s, current: s.id === user.sessionId }));
    },

    async revokeSession(actor: Actor, sessionId: string): Promise<void> {
      const user = access.requireUser(actor);
      if (!(await repo.deleteSession(user.userId, sessionId))) throw notFound('Session');
    },

    async listUsers(actor: Actor, q: PageQuery & { role?: PlatformRole | undefined; email?: string | undefined }): Promise<Page<User>> {
      access.requirePlatformAdmin(actor);
      const rows = await repo.list({ role: q.role, email: q.email, before: decodeCursor(q.cursor), limit: q.limit });
      return toPage(rows, q.limit);
    },

    /** An operator changes a user's platform role or status; suspending ends every session at once. */
    async adminUpdateUser(actor: Actor, userId: string, patch: { role?: PlatformRole | undefined; status?: UserStatus | undefined }): Promise<User> {
      const admin = access.requirePlatformAdmin(actor);
      if (userId === admin.userId && (patch.role !== undefined && patch.role !== 'admin')) {
        throw new AppError('conflict', 'Operators cannot remove their own operator role', { code: 'self_demotion' });
      }
      return db.transaction(async (tx) => {
        const before = await repo.getById(userId, tx);
        if (!before || before.status === 'deleted') throw notFound('User');
        const updated = (await repo.update(userId, { ...(patch.role ? { role: patch.role } : {}), ...(patch.status ? { status: patch.status } : {}) }, tx))!;
        if (patch.role && patch.role !== before.role) {
          await audit.record(
            { action: 'user.role_changed', userId: admin.userId, resourceType: 'user', resourceId: userId, meta: admin.meta, metadata: { from: before.role, to: patch.role } },
            tx,
          );
        }
        if (patch.status && patch.status !== before.status) {
          if (patch.status !== 'active') await repo.deleteSessions(userId, undefined, tx);
          await audit.record(
            { action: 'user.status_changed', userId: admin.userId, resourceType: 'user', resourceId: userId, meta: admin.meta, metadata: { from: before.status, to: patch.status } },
            tx,
          );
        }
        return updated;
      });
    },

    /**
     * Creates an account outside any request (CLI and demo data): no session, and the e-mail is
     * taken as verified because an operator vouches for it.
     */
    async createUser(input: { email: string; password: string; name: string; role: PlatformRole }): Promise<User> {
      const created = await auth.api
        .signUpEmail({ body: { email: input.email.toLowerCase(), password: input.password, name: input.name } })
        .catch(fromAuthError);
      // signUpEmail signs the new account in (autoSignIn); nobody holds that session, so end it.
      await repo.deleteSessions(created.user.id);
      await repo.update(created.user.id, { role: input.role });
      await repo.markEmailVerified(created.user.id);
      await audit.record({ action: 'user.created_by_cli', userId: created.user.id, resourceType: 'user', resourceId: created.user.id, metadata: { role: input.role } });
      return (await repo.getById(created.user.id))!;
    },

    /** The CLI's create-admin: makes an operator account, or promotes an existing one. */
    async createAdmin(input: { email: string; password: string; name: string }): Promise<{ user: User; created: boolean }> {
      const existing = await repo.getByEmail(input.email);
      if (existing) {
        const user = (await repo.update(existing.id, { role: 'admin', status: 'active' }))!;
        await audit.record({ action: 'user.role_changed', userId: existing.id, resourceType: 'user', resourceId: existing.id, metadata: { from: existing.role, to: 'admin', by: 'cli' } });
        return { user, created: false };
      }
      return { user: await this.createUser({ ...input, role: 'admin' }), created: true };
    },

    /** A user actor for work done on someone's behalf outside a request (CLI, demo data). */
    async systemActorFor(userId: string): Promise<UserActor> {
      const u = await getUser(userId);
      return {
        kind: 'user',
        userId: u.id,
        email: u.email,
        role: u.role,
        status: u.status,
        emailVerified: u.emailVerified,
        sessionId: 'system',
        meta: { ip: null, userAgent: 'fanfare-cli', requestId: 'cli' },
        memberships: new Map(),
      };
    },
  };
}
export type IdentityService = ReturnType<typeof createIdentityService>;

/** The mails BetterAuth asks us to send, and what happens after it verifies or resets. */
export function identityAuthHooks(deps: { repo: () => IdentityRepository; mail: () => MailService; audit: () => AuditService; publicUrl: string }) {
  return {
    async sendVerificationEmail(user: { id: string; email: string; name: string }, token: string) {
      const link = `${deps.publicUrl}/v1/auth/verify-email?token=${encodeURIComponent(token)}`;
      await deps.mail().queue({
        to: user.email,
        userId: user.id,
        type: 'email_verification',
        subject: 'Confirm your e-mail address',
        text: `Hello ${user.name},\n\nConfirm your e-mail address for Fanfare by opening this link within 24 hours:\n\n${link}\n\nIf you did not sign up, ignore this mail.`,
        html: `<p>Hello ${escapeHtml(user.name)},</p><p>Confirm your e-mail address for Fanfare by opening this link within 24 hours:</p><p><a href="${link}">${link}</a></p><p>If you did not sign up, ignore this mail.</p>`,
      });
    },
    async sendResetPassword(user: { id: string; email: string; name: string }, token: string) {
      await deps.mail().queue({
        to: user.email,
        userId: user.id,
        type: 'password_reset',
        subject: 'Reset your Fanfare password',
        text: `Hello ${user.name},\n\nSomeone asked to reset your Fanfare password. If it was you, use this token within one hour:\n\n${token}\n\nPOST it with your new password to ${deps.publicUrl}/v1/auth/password/reset. If it was not you, ignore this mail; your password is unchanged.`,
      });
    },
    async afterEmailVerification(userId: string) {
      await deps.repo().markEmailVerified(userId);
      await deps.audit().record({ action: 'auth.email_verified', userId, resourceType: 'user', resourceId: userId });
    },
    async afterPasswordReset(userId: string) {
      await deps.audit().record({ action: 'auth.password_reset', userId, resourceType: 'user', resourceId: userId });
    },
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
