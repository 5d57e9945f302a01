import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { platformRoles, userStatuses } from './identity.schema.ts';
import { selfServiceRoles, type IdentityService } from './identity.service.ts';
import type { User } from './identity.repository.ts';

const email = z
  .email()
  .max(255)
  .transform((v) => v.toLowerCase());
const password = z.string().min(10, 'must be at least 10 characters').max(128);

export const userSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    name: z.string(),
    emailVerified: z.boolean(),
    emailVerifiedAt: z.date().nullable(),
    avatarUrl: z.string().nullable(),
    role: z.enum(platformRoles),
    status: z.enum(userStatuses),
    bio: z.string().nullable(),
    phone: z.string().nullable(),
    countryCode: z.string().nullable(),
    timezone: z.string(),
    language: z.string(),
    onboardingCompleted: z.boolean(),
    lastLoginAt: z.date().nullable(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'User' });

export const toUserDto = (u: User): z.infer<typeof userSchema> => ({
  id: u.id,
  email: u.email,
  name: u.name,
  emailVerified: u.emailVerified,
  emailVerifiedAt: u.emailVerifiedAt,
  avatarUrl: u.image,
  role: u.role,
  status: u.status,
  bio: u.bio,
  phone: u.phone,
  countryCode: u.countryCode,
  timezone: u.timezone,
  language: u.language,
  onboardingCompleted: u.onboardingCompleted,
  lastLoginAt: u.lastLoginAt,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
});

const authResult = z.object({ user: userSchema, token: z.string().describe('Session token for `Authorization: Bearer`') });
const sessionSchema = z.object({
  id: z.uuid(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  createdAt: z.date(),
  expiresAt: z.date(),
  current: z.boolean(),
});

const isValidTimezone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const profilePatch = z
  .object({
    name: z.string().trim().min(1).max(255),
    avatarUrl: z.url().max(2000).nullable(),
    bio: z.string().max(5000).nullable(),
    phone: z
      .string()
      .regex(/^\+?[0-9 ()-]{5,20}$/, 'must be a phone number')
      .nullable(),
    countryCode: z
      .string()
      .regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 code')
      .nullable(),
    timezone: z.string().refine(isValidTimezone, 'must be an IANA time zone such as Europe/Paris'),
    language: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a language tag such as en or pt-BR'),
    onboardingCompleted: z.boolean(),
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'give at least one field to change');

/**
 * The credentials BetterAuth reads (cookie, bearer) plus who is asking; nothing else of the
 * request reaches it.
 */
export function credentialsOf(req: FastifyRequest): Headers {
  const h = new Headers();
  if (req.headers.cookie) h.set('cookie', req.headers.cookie);
  if (req.headers.authorization) h.set('authorization', req.headers.authorization);
  if (req.headers['user-agent']) h.set('user-agent', req.headers['user-agent']);
  h.set('x-fanfare-client-ip', req.ip);
  return h;
}

const setCookies = (reply: FastifyReply, cookies: string[]) => {
  if (cookies.length) reply.header('set-cookie', cookies);
};

export interface IdentityRouteOptions {
  /** Per account and IP: sign-in and password reset (the creator platform's 5 per 15 minutes). */
  rateLimit: { max: number; timeWindow: number };
}

export const identityRoutes = (identity: IdentityService, opts: IdentityRouteOptions): FastifyPluginAsyncZod =>
  async (app) => {
    const perAccountAndIp = (name: string) => ({
      rateLimit: {
        max: opts.rateLimit.max,
        timeWindow: opts.rateLimit.timeWindow,
        groupId: name,
        keyGenerator: (req: FastifyRequest) => {
          const body = (req.body ?? {}) as { email?: unknown; token?: unknown };
          const who = typeof body.email === 'string' ? body.email.toLowerCase() : typeof body.token === 'string' ? body.token.slice(0, 64) : '';
          return `${who}|${req.ip}`;
        },
      },
    });

    app.post(
      '/v1/auth/sign-up',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create an account',
          description: 'Creates the account, starts a session (cookie and token) and mails a verification link.',
          body: z.object({ email, password, name: z.string().trim().min(1).max(255), role: z.enum(selfServiceRoles).optional() }),
          response: { 201: authResult, ...errorResponses(400, 409, 429) },
        },
      },
      async (req, reply) => {
        const result = await identity.signUp(req.body, credentialsOf(req), req.actor.meta);
        setCookies(reply, result.cookies);
        return reply.status(201).send({ user: toUserDto(result.user), token: result.token });
      },
    );

    app.post(
      '/v1/auth/sign-in',
      {
        config: perAccountAndIp('sign-in'),
        schema: {
          tags: ['auth'],
          summary: 'Sign in with e-mail and password',
          description: `Sets a session cookie and returns a bearer token. Limited to ${opts.rateLimit.max} attempts per ${Math.round(opts.rateLimit.timeWindow / 60_000)} minutes per account and IP.`,
          body: z.object({ email, password: z.string().min(1).max(128), rememberMe: z.boolean().optional() }),
          response: { 200: authResult, ...errorResponses(400, 401, 403, 429) },
        },
      },
      async (req, reply) => {
        const result = await identity.signIn(req.body, credentialsOf(req), req.actor.meta);
        setCookies(reply, result.cookies);
        return { user: toUserDto(result.user), token: result.token };
      },
    );

    app.post(
      '/v1/auth/sign-out',
      { schema: { tags: ['auth'], summary: 'End the current session', response: { 204: z.null(), ...errorResponses(401) } } },
      async (req, reply) => {
        setCookies(reply, await identity.signOut(req.actor, credentialsOf(req)));
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/auth/verify-email',
      {
        schema: {
          tags: ['auth'],
          summary: 'Confirm an e-mail address (the link in the verification mail)',
          querystring: z.object({ token: z.string().min(10).max(2000) }),
          response: { 200: z.object({ verified: z.literal(true) }), ...errorResponses(400) },
        },
      },
      async (req) => {
        await identity.verifyEmail(req.query.token, req.actor.meta);
        return { verified: true as const };
      },
    );

    app.post(
      '/v1/auth/verify-email/resend',
      {
        schema: { tags: ['auth'], summary: 'Send the verification mail again', response: { 202: z.object({ sent: z.literal(true) }), ...errorResponses(401, 409) } },
      },
      async (req, reply) => {
        await identity.resendVerification(req.actor);
        return reply.status(202).send({ sent: true as const });
      },
    );

    app.post(
      '/v1/auth/password/forgot',
      {
        config: perAccountAndIp('password-forgot'),
        schema: {
          tags: ['auth'],
          summary: 'Mail a password reset token',
          description: 'Always answers 202, whether or not the account exists.',
          body: z.object({ email }),
          response: { 202: z.object({ accepted: z.literal(true) }), ...errorResponses(400, 429) },
        },
      },
      async (req, reply) => {
        await identity.requestPasswordReset(req.body.email, req.actor.meta);
        return reply.status(202).send({ accepted: true as const });
      },
    );

    app.post(
      '/v1/auth/password/reset',
      {
        config: perAccountAndIp('password-reset'),
        schema: {
          tags: ['auth'],
          summary: 'Set a new password with a reset token',
          description: 'Ends every session of the account.',
          body: z.object({ token: z.string().min(10).max(500), newPassword: password }),
          response: { 204: z.null(), ...errorResponses(400, 429) },
        },
      },
      async (req, reply) => {
        await identity.resetPassword(req.body.token, req.body.newPassword);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/v1/auth/password/change',
      {
        schema: {
          tags: ['auth'],
          summary: 'Change the password',
          description: 'Other sessions are ended unless `revokeOtherSessions` is false.',
          body: z.object({ currentPassword: z.string().min(1).max(128), newPassword: password, revokeOtherSessions: z.boolean().optional() }),
          response: { 204: z.null(), ...errorResponses(400, 401) },
        },
      },
      async (req, reply) => {
        await identity.changePassword(req.actor, credentialsOf(req), req.body);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/auth/sessions',
      { schema: { tags: ['auth'], summary: 'List my active sessions', response: { 200: z.object({ items: z.array(sessionSchema) }), ...errorResponses(401) } } },
      async (req) => ({ items: await identity.listSessions(req.actor) }),
    );

    app.delete(
      '/v1/auth/sessions/:sessionId',
      {
        schema: {
          tags: ['auth'],
          summary: 'End one of my sessions',
          params: z.object({ sessionId: z.uuid() }),
          response: { 204: z.null(), ...errorResponses(400, 401, 404) },
        },
      },
      async (req, reply) => {
        await identity.revokeSession(req.actor, req.params.sessionId);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/me',
      { schema: { tags: ['users'], summary: 'The signed-in user', response: { 200: userSchema, ...errorResponses(401, 403) } } },
      async (req) => toUserDto(await identity.me(req.actor)),
    );

    app.patch(
      '/v1/me',
      {
        schema: { tags: ['users'], summary: 'Update my profile', body: profilePatch, response: { 200: userSchema, ...errorResponses(400, 401, 403) } },
      },
      async (req) => {
        const { avatarUrl, ...rest } = req.body;
        return toUserDto(await identity.updateProfile(req.actor, { ...rest, ...(avatarUrl !== undefined ? { image: avatarUrl } : {}) }));
      },
    );

    app.delete(
      '/v1/me',
      {
        schema: {
          tags: ['users'],
          summary: 'Delete my account',
          description: 'Confirmed with the password. Every session ends and the e-mail can no longer sign in.',
          body: z.object({ password: z.string().min(1).max(128) }).strict(),
          response: { 204: z.null(), ...errorResponses(400, 401, 403) },
        },
      },
      async (req, reply) => {
        await identity.deleteAccount(req.actor, credentialsOf(req), req.body.password);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/admin/users',
      {
        schema: {
          tags: ['operator'],
          summary: 'List users (operators)',
          querystring: pageQuery.extend({ role: z.enum(platformRoles).optional(), email: z.string().max(255).optional() }),
          response: { 200: pageSchema(userSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (req) => {
        const page = await identity.listUsers(req.actor, req.query);
        return { items: page.items.map(toUserDto), nextCursor: page.nextCursor };
      },
    );

    app.patch(
      '/v1/admin/users/:userId',
      {
        schema: {
          tags: ['operator'],
          summary: "Change a user's platform role or status (operators)",
          description: 'Suspending a user ends their sessions at once.',
          params: z.object({ userId: z.uuid() }),
          body: z
            .object({ role: z.enum(platformRoles).optional(), status: z.enum(['active', 'suspended']).optional() })
            .strict()
            .refine((v) => v.role !== undefined || v.status !== undefined, 'give role or status'),
          response: { 200: userSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toUserDto(await identity.adminUpdateUser(req.actor, req.params.userId, req.body)),
    );
  };
