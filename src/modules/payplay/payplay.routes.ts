import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { errorResponses } from '../../core/http.ts';
import { currencySchema, formatMoney } from '../../core/money.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { Grant, Platform, PlatformKey, PlaybackSession } from './payplay.repository.ts';
import { endReasons, grantStatuses, platformStatuses, platformTypes, sessionStatuses } from './payplay.schema.ts';
import type { PayplayService, PlatformWithSecret } from './payplay.service.ts';

/** A price per minute in minor units: up to 1,000.00 a minute. */
const priceSchema = z.number().int().positive().max(100_000);
const capSchema = z.number().int().positive().max(100_000_000);
const url = z.url().max(500);
/** Where Fanfare POSTs the platform's events: http or https only (it is called from the server). */
const webhookUrl = z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(500);

const platformSchema = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  userId: z.uuid().nullable(),
  name: z.string(),
  type: z.enum(platformTypes),
  description: z.string().nullable(),
  websiteUrl: z.string().nullable(),
  webhookUrl: z.string().nullable(),
  status: z.enum(platformStatuses),
  currency: z.string(),
  pricePerMinute: z.number().int(),
  billingUnitSeconds: z.number().int(),
  commissionBps: z.number().int(),
  suspendedAt: z.date().nullable(),
  suspendedReason: z.string().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const toPlatform = (p: Platform): z.infer<typeof platformSchema> => ({
  id: p.id,
  organizationId: p.organizationId,
  userId: p.userId,
  name: p.name,
  type: p.type,
  description: p.description,
  websiteUrl: p.websiteUrl,
  webhookUrl: p.webhookUrl,
  status: p.status,
  currency: p.currency,
  pricePerMinute: p.pricePerMinute,
  billingUnitSeconds: p.billingUnitSeconds,
  commissionBps: p.commissionBps,
  suspendedAt: p.suspendedAt,
  suspendedReason: p.suspendedReason,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

const createdPlatformSchema = platformSchema.extend({
  webhookSecret: z.string().optional().describe('The webhook signing secret (whsec_…), in the answer that set the first webhook URL only; rotate it to get a new one'),
});
const toCreatedPlatform = (p: PlatformWithSecret) => ({ ...toPlatform(p), ...(p.webhookSecret ? { webhookSecret: p.webhookSecret } : {}) });

const keySchema = z.object({
  id: z.uuid(),
  platformId: z.uuid(),
  name: z.string(),
  start: z.string().describe('The first characters of the key'),
  lastUsedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  replacedBy: z.uuid().nullable(),
  createdAt: z.date(),
});
const toKey = (k: PlatformKey): z.infer<typeof keySchema> => ({
  id: k.id,
  platformId: k.platformId,
  name: k.name,
  start: k.start,
  lastUsedAt: k.lastUsedAt,
  revokedAt: k.revokedAt,
  replacedBy: k.replacedBy,
  createdAt: k.createdAt,
});

const grantSchema = z.object({
  id: z.uuid().describe('The grant id the partner starts sessions with'),
  platformId: z.uuid(),
  status: z.enum(grantStatuses),
  currency: z.string(),
  pricePerMinute: z.number().int().describe('The most a minute may cost, in minor units'),
  dailyCap: z.number().int().nullable(),
  spentToday: z.number().int(),
  externalRef: z.string().nullable(),
  expiresAt: z.date(),
  approvedAt: z.date().nullable(),
  deniedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  createdAt: z.date(),
});
const toGrant = (g: Grant): z.infer<typeof grantSchema> => ({
  id: g.id,
  platformId: g.platformId,
  status: g.status,
  currency: g.currency,
  pricePerMinute: g.pricePerMinute,
  dailyCap: g.dailyCap,
  spentToday: g.spentToday,
  externalRef: g.externalRef,
  expiresAt: g.expiresAt,
  approvedAt: g.approvedAt,
  deniedAt: g.deniedAt,
  revokedAt: g.revokedAt,
  createdAt: g.createdAt,
});

const sessionSchema = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  platformId: z.uuid(),
  platformName: z.string().optional(),
  grantId: z.uuid(),
  contentId: z.string(),
  contentTitle: z.string().nullable(),
  currency: z.string(),
  pricePerMinute: z.number().int(),
  billingUnitSeconds: z.number().int(),
  status: z.enum(sessionStatuses),
  endReason: z.enum(endReasons).nullable(),
  startedAt: z.date(),
  lastHeartbeatAt: z.date(),
  paidUntil: z.date().describe('Play is paid up to here; past it the next unit is charged'),
  billedUnits: z.number().int(),
  totalCost: z.number().int(),
  endedAt: z.date().nullable(),
  durationSeconds: z.number().int().nullable(),
});
const toSession = (s: PlaybackSession & { platformName?: string }): z.infer<typeof sessionSchema> => ({
  id: s.id,
  userId: s.userId,
  platformId: s.platformId,
  ...(s.platformName ? { platformName: s.platformName } : {}),
  grantId: s.grantId,
  contentId: s.contentId,
  contentTitle: s.contentTitle,
  currency: s.currency,
  pricePerMinute: s.pricePerMinute,
  billingUnitSeconds: s.billingUnitSeconds,
  status: s.status,
  endReason: s.endReason,
  startedAt: s.startedAt,
  lastHeartbeatAt: s.lastHeartbeatAt,
  paidUntil: s.paidUntilAt,
  billedUnits: s.billedUnits,
  totalCost: s.totalCost,
  endedAt: s.endedAt,
  durationSeconds: s.durationSeconds,
});

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><meta name="viewport" content="width=device-width"></head>` +
  `<body style="font-family:system-ui;max-width:34rem;margin:3rem auto;line-height:1.5"><h1>${esc(title)}</h1>${body}</body></html>`;

export const payplayRoutes = (svc: PayplayService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['pay as play'];
    const partnerTags = ['pay as play: partner API'];
    const orgPlatform = z.object({ orgId: z.uuid(), platformId: z.uuid() });

    // HTML forms on the consent page post urlencoded bodies (only inside this plugin).
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });

    // ---- partner organizations
    app.post(
      '/v1/orgs/:orgId/platforms',
      {
        schema: {
          tags,
          summary: 'Register a partner platform',
          description: 'Needs platforms.manage. The commission is the operator’s default (PAYPLAY_COMMISSION_BPS). pricePerMinute is the most a minute may cost; billingUnitSeconds the minimum billing unit (a started unit is billed in full).',
          params: z.object({ orgId: z.uuid() }),
          body: z
            .object({
              name: z.string().trim().min(1).max(255),
              type: z.enum(platformTypes),
              description: z.string().max(5000).nullable().optional(),
              websiteUrl: url.nullable().optional(),
              webhookUrl: webhookUrl.nullable().optional(),
              currency: currencySchema,
              pricePerMinute: priceSchema,
              billingUnitSeconds: z.number().int().min(1).max(3600).optional(),
            })
            .strict(),
          response: { 201: createdPlatformSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => reply.status(201).send(toCreatedPlatform(await svc.createPlatform(req.actor, req.params.orgId, req.body))),
    );
    app.get(
      '/v1/orgs/:orgId/platforms',
      { schema: { tags, summary: 'Platforms of a partner organization', params: z.object({ orgId: z.uuid() }), querystring: pageQuery, response: { 200: pageSchema(platformSchema), ...errorResponses(400, 401, 403, 404) } } },
      async (req) => {
        const p = await svc.listPlatforms(req.actor, req.params.orgId, req.query);
        return { items: p.items.map(toPlatform), nextCursor: p.nextCursor };
      },
    );
    app.get(
      '/v1/orgs/:orgId/platforms/:platformId',
      { schema: { tags, summary: 'A platform', params: orgPlatform, response: { 200: platformSchema, ...errorResponses(400, 401, 403, 404) } } },
      async (req) => toPlatform(await svc.getPlatform(req.actor, req.params.orgId, req.params.platformId)),
    );
    app.patch(
      '/v1/orgs/:orgId/platforms/:platformId',
      {
        schema: {
          tags,
          summary: 'Edit a platform',
          description: 'status inactive stops its running sessions at once; a suspended platform is reactivated only by the operator.',
          params: orgPlatform,
          body: z
            .object({
              name: z.string().trim().min(1).max(255).optional(),
              description: z.string().max(5000).nullable().optional(),
              websiteUrl: url.nullable().optional(),
              webhookUrl: webhookUrl.nullable().optional(),
              pricePerMinute: priceSchema.optional(),
              billingUnitSeconds: z.number().int().min(1).max(3600).optional(),
              status: z.enum(['active', 'inactive']).optional(),
            })
            .strict(),
          response: { 200: createdPlatformSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toCreatedPlatform(await svc.updatePlatform(req.actor, req.params.orgId, req.params.platformId, req.body)),
    );
    app.get(
      '/v1/orgs/:orgId/platforms/:platformId/sessions',
      {
        schema: { tags, summary: 'Sessions played on a platform', params: orgPlatform, querystring: pageQuery.extend({ status: z.enum(sessionStatuses).optional() }), response: { 200: pageSchema(sessionSchema), ...errorResponses(400, 401, 403, 404) } },
      },
      async (req) => {
        const p = await svc.platformSessions(req.actor, req.params.orgId, req.params.platformId, req.query);
        return { items: p.items.map(toSession), nextCursor: p.nextCursor };
      },
    );
    app.post(
      '/v1/orgs/:orgId/platforms/:platformId/keys',
      {
        schema: {
          tags,
          summary: 'Create a platform API key',
          description: 'The key (`secret`, ffp_…) is shown in this response only; Fanfare keeps a hash.',
          params: orgPlatform,
          body: z.object({ name: z.string().trim().min(1).max(100) }).strict(),
          response: { 201: keySchema.extend({ secret: z.string() }), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        const { key, secret } = await svc.createKey(req.actor, req.params.orgId, req.params.platformId, req.body);
        return reply.status(201).send({ ...toKey(key), secret });
      },
    );
    app.get(
      '/v1/orgs/:orgId/platforms/:platformId/keys',
      { schema: { tags, summary: 'API keys of a platform', params: orgPlatform, querystring: pageQuery, response: { 200: pageSchema(keySchema), ...errorResponses(400, 401, 403, 404) } } },
      async (req) => {
        const p = await svc.listKeys(req.actor, req.params.orgId, req.params.platformId, req.query);
        return { items: p.items.map(toKey), nextCursor: p.nextCursor };
      },
    );
    app.delete(
      '/v1/orgs/:orgId/platforms/:platformId/keys/:keyId',
      { schema: { tags, summary: 'Revoke a platform API key', description: 'Takes effect on the next request.', params: orgPlatform.extend({ keyId: z.uuid() }), response: { 200: keySchema, ...errorResponses(400, 401, 403, 404, 409) } } },
      async (req) => toKey(await svc.revokeKey(req.actor, req.params.orgId, req.params.platformId, req.params.keyId)),
    );
    app.post(
      '/v1/orgs/:orgId/platforms/:platformId/keys/:keyId/rotate',
      {
        schema: { tags, summary: 'Rotate a platform API key', description: 'A new key replaces this one, which stops working at once.', params: orgPlatform.extend({ keyId: z.uuid() }), response: { 201: keySchema.extend({ secret: z.string() }), ...errorResponses(400, 401, 403, 404, 409) } },
      },
      async (req, reply) => {
        const { key, secret } = await svc.rotateKey(req.actor, req.params.orgId, req.params.platformId, req.params.keyId);
        return reply.status(201).send({ ...toKey(key), secret });
      },
    );
    app.get(
      '/v1/orgs/:orgId/payplay/earnings',
      {
        schema: {
          tags,
          summary: 'Pay as Play earnings per platform and period',
          description: 'From the ledger entries of the partner organization’s wallet accounts, bucketed by UTC day, week or month. gross is what users paid, commission the platform’s cut, net what the partner earned.',
          params: z.object({ orgId: z.uuid() }),
          querystring: z.object({ period: z.enum(['day', 'week', 'month']).default('day'), from: z.coerce.date().optional(), to: z.coerce.date().optional(), platformId: z.uuid().optional() }),
          response: {
            200: z.object({ items: z.array(z.object({ bucket: z.date(), platformId: z.uuid(), currency: z.string(), gross: z.number().int(), commission: z.number().int(), net: z.number().int(), sessions: z.number().int() })) }),
            ...errorResponses(400, 401, 403, 404),
          },
        },
      },
      async (req) => ({ items: await svc.earnings(req.actor, req.params.orgId, req.query) }),
    );
    app.get(
      '/v1/orgs/:orgId/payplay/wallet/:currency',
      {
        schema: {
          tags,
          summary: 'The partner wallet Pay as Play credits',
          description: 'Payouts draw on this wallet’s available balance.',
          params: z.object({ orgId: z.uuid(), currency: currencySchema }),
          response: { 200: z.object({ walletId: z.uuid(), currency: z.string(), balance: z.number().int(), totalEarned: z.number().int(), totalWithdrawn: z.number().int() }), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const w = await svc.orgWallet(req.actor, req.params.orgId, req.params.currency);
        return { walletId: w.wallet.id, currency: w.wallet.currency, balance: w.wallet.balanceAvailable, totalEarned: w.wallet.totalEarned, totalWithdrawn: w.wallet.totalWithdrawn };
      },
    );

    // ---- operators
    app.post(
      '/v1/admin/payplay/platforms/:platformId/status',
      {
        schema: {
          tags,
          summary: 'Suspend or reactivate a platform (operators)',
          description: 'Suspension stops its running sessions at once, and it can start nothing until reactivated.',
          params: z.object({ platformId: z.uuid() }),
          body: z.object({ status: z.enum(platformStatuses), reason: z.string().trim().min(1).max(1000).optional() }).strict(),
          response: { 200: platformSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toPlatform(await svc.setPlatformStatus(req.actor, req.params.platformId, req.body)),
    );
    app.post(
      '/v1/admin/payplay/platforms/:platformId/commission',
      {
        schema: {
          tags,
          summary: 'Set a platform’s commission (operators)',
          description: 'Applies to sessions started afterwards; running sessions keep the rate they started with.',
          params: z.object({ platformId: z.uuid() }),
          body: z.object({ commissionBps: z.number().int().min(0).max(10_000) }).strict(),
          response: { 200: platformSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toPlatform(await svc.setCommission(req.actor, req.params.platformId, req.body.commissionBps)),
    );

    // ---- the partner API (platform API key)
    app.get(
      '/v1/payplay/partner/platform',
      { schema: { tags: partnerTags, summary: 'The platform of the presented key', response: { 200: platformSchema, ...errorResponses(401, 403) } } },
      async (req) => toPlatform(await svc.partnerPlatform(req.actor)),
    );
    app.post(
      '/v1/payplay/partner/consents',
      {
        schema: {
          tags: partnerTags,
          summary: 'Ask a user’s consent to charge them',
          description: 'Answers a code and the Fanfare consent URL to send the user to. Once they approve, this request is the grant (same id) that sessions start with.',
          body: z.object({ pricePerMinute: priceSchema, dailyCap: capSchema.nullable().optional(), externalRef: z.string().trim().min(1).max(255).nullable().optional() }).strict(),
          response: { 201: grantSchema.extend({ code: z.string(), consentUrl: z.string() }), ...errorResponses(400, 401, 403) },
        },
      },
      async (req, reply) => {
        const g = await svc.requestConsent(req.actor, req.body);
        return reply.status(201).send({ ...toGrant(g), code: g.code, consentUrl: svc.consentUrl(g.code) });
      },
    );
    app.get(
      '/v1/payplay/partner/grants/:grantId',
      { schema: { tags: partnerTags, summary: 'A consent request or grant of this platform', params: z.object({ grantId: z.uuid() }), response: { 200: grantSchema, ...errorResponses(400, 401, 403, 404) } } },
      async (req) => toGrant(await svc.partnerGrant(req.actor, req.params.grantId)),
    );
    app.post(
      '/v1/payplay/partner/sessions',
      {
        schema: {
          tags: partnerTags,
          summary: 'Start a session for a granted user',
          description:
            'Charges the first billing unit at once (402 insufficient_funds or spending_cap when it cannot). Then send heartbeats while the content plays; play is billed up to the last heartbeat, a started unit in full. Send an Idempotency-Key.',
          body: z.object({ grantId: z.uuid(), contentId: z.string().trim().min(1).max(255), contentTitle: z.string().trim().min(1).max(255).nullable().optional(), pricePerMinute: priceSchema }).strict(),
          response: { 201: sessionSchema, ...errorResponses(400, 401, 402, 403, 404) },
        },
      },
      async (req, reply) => reply.status(201).send(toSession(await svc.startSession(req.actor, req.body))),
    );
    app.post(
      '/v1/payplay/partner/sessions/:sessionId/heartbeat',
      {
        schema: {
          tags: partnerTags,
          summary: 'The content is still playing',
          description: `Send at least every PAYPLAY_IDLE_SECONDS; a session without one for that long is closed, charged up to its last heartbeat. 409 session_ended once it has stopped (stop, revocation, suspension, funds).`,
          params: z.object({ sessionId: z.uuid() }),
          response: { 200: sessionSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toSession(await svc.heartbeat(req.actor, req.params.sessionId)),
    );
    app.post(
      '/v1/payplay/partner/sessions/:sessionId/stop',
      {
        schema: { tags: partnerTags, summary: 'Stop a session', description: 'Charges play up to now. Stopping an ended session answers it unchanged.', params: z.object({ sessionId: z.uuid() }), response: { 200: sessionSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (req) => toSession(await svc.stopSession(req.actor, req.params.sessionId)),
    );
    app.get(
      '/v1/payplay/partner/sessions/:sessionId',
      { schema: { tags: partnerTags, summary: 'A session of this platform', params: z.object({ sessionId: z.uuid() }), response: { 200: sessionSchema, ...errorResponses(400, 401, 403, 404) } } },
      async (req) => toSession(await svc.partnerSession(req.actor, req.params.sessionId)),
    );

    // ---- users: consent, grants, history
    const code = z.object({ code: z.string().min(8).max(32).regex(/^[\w-]+$/) });
    const consentView = z.object({
      grant: grantSchema,
      platform: z.object({ id: z.uuid(), name: z.string(), type: z.enum(platformTypes), description: z.string().nullable(), websiteUrl: z.string().nullable() }),
    });
    app.get(
      '/v1/payplay/consents/:code',
      { schema: { tags, summary: 'What a consent request asks for', params: code, response: { 200: consentView, ...errorResponses(400, 401, 404) } } },
      async (req) => {
        const { grant, platform } = await svc.consent(req.actor, req.params.code);
        return { grant: toGrant(grant), platform: { id: platform.id, name: platform.name, type: platform.type, description: platform.description, websiteUrl: platform.websiteUrl } };
      },
    );
    app.post(
      '/v1/payplay/grants/:code/approve',
      {
        schema: {
          tags,
          summary: 'Approve a consent request',
          description: 'The platform may then charge you up to the price per minute shown, within your optional daily cap (minor units).',
          params: code,
          body: z.object({ dailyCap: capSchema.nullable().optional() }).strict().default({}),
          response: { 200: grantSchema, ...errorResponses(400, 401, 404, 409, 410) },
        },
      },
      async (req) => toGrant(await svc.approve(req.actor, req.params.code, req.body)),
    );
    app.post(
      '/v1/payplay/grants/:code/deny',
      { schema: { tags, summary: 'Deny a consent request', params: code, response: { 200: grantSchema, ...errorResponses(400, 401, 404, 409, 410) } } },
      async (req) => toGrant(await svc.deny(req.actor, req.params.code)),
    );
    app.get(
      '/v1/payplay/grants',
      {
        schema: { tags, summary: 'Platforms I let charge me', querystring: pageQuery.extend({ status: z.enum(grantStatuses).optional() }), response: { 200: pageSchema(grantSchema.extend({ platformName: z.string() })), ...errorResponses(400, 401) } },
      },
      async (req) => {
        const p = await svc.listGrants(req.actor, req.query);
        return { items: p.items.map((g) => ({ ...toGrant(g), platformName: g.platformName })), nextCursor: p.nextCursor };
      },
    );
    app.get(
      '/v1/payplay/grants/:grantId',
      { schema: { tags, summary: 'One of my grants', params: z.object({ grantId: z.uuid() }), response: { 200: grantSchema, ...errorResponses(400, 401, 404) } } },
      async (req) => toGrant(await svc.getGrant(req.actor, req.params.grantId)),
    );
    app.patch(
      '/v1/payplay/grants/:grantId',
      {
        schema: { tags, summary: 'Change my daily cap for a platform', params: z.object({ grantId: z.uuid() }), body: z.object({ dailyCap: capSchema.nullable() }).strict(), response: { 200: grantSchema, ...errorResponses(400, 401, 404, 409) } },
      },
      async (req) => toGrant(await svc.setDailyCap(req.actor, req.params.grantId, req.body.dailyCap)),
    );
    app.post(
      '/v1/payplay/grants/:grantId/revoke',
      {
        schema: { tags, summary: 'Revoke a grant', description: 'At once: its running sessions stop now, charged up to their last heartbeat.', params: z.object({ grantId: z.uuid() }), response: { 200: grantSchema, ...errorResponses(400, 401, 404, 409) } },
      },
      async (req) => toGrant(await svc.revokeGrant(req.actor, req.params.grantId)),
    );
    app.get(
      '/v1/payplay/sessions',
      {
        schema: { tags, summary: 'My Pay as Play sessions, with their costs', querystring: pageQuery.extend({ status: z.enum(sessionStatuses).optional() }), response: { 200: pageSchema(sessionSchema), ...errorResponses(400, 401) } },
      },
      async (req) => {
        const p = await svc.mySessions(req.actor, req.query);
        return { items: p.items.map(toSession), nextCursor: p.nextCursor };
      },
    );
    app.get(
      '/v1/payplay/sessions/:sessionId',
      { schema: { tags, summary: 'One of my sessions', params: z.object({ sessionId: z.uuid() }), response: { 200: sessionSchema, ...errorResponses(400, 401, 404) } } },
      async (req) => toSession(await svc.mySession(req.actor, req.params.sessionId)),
    );
    app.get(
      '/v1/payplay/stats',
      {
        schema: {
          tags,
          summary: 'My Pay as Play statistics',
          description: 'Per currency: sessions, seconds played, what they cost, and the average cost of a minute (kept on the wallet at each session end).',
          response: { 200: z.object({ items: z.array(z.object({ currency: z.string(), sessions: z.number().int(), seconds: z.number().int(), cost: z.number().int(), averageMinuteCost: z.number().int().nullable() })) }), ...errorResponses(401) },
        },
      },
      async (req) => ({ items: await svc.myStats(req.actor) }),
    );

    // ---- the consent page (server-rendered, for a signed-in browser)
    const html = (reply: { type(t: string): unknown; status(n: number): unknown }, status: number) => {
      reply.type('text/html; charset=utf-8');
      reply.status(status);
    };
    const errorPage = (err: unknown) => {
      if (err instanceof AppError) {
        const hint = err.kind === 'unauthenticated' ? '<p>Sign in to Fanfare, then open this link again.</p>' : '';
        return { status: err.status, body: page('Consent request', `<p>${esc(err.message)}</p>${hint}`) };
      }
      throw err;
    };
    app.get('/consent/:code', { schema: { hide: true, params: code } }, async (req, reply) => {
      try {
        const { grant, platform } = await svc.consent(req.actor, req.params.code);
        html(reply, 200);
        if (grant.status !== 'pending') return page(`${platform.name}`, `<p>This request is ${esc(grant.status)}.</p>`);
        const price = formatMoney(grant.pricePerMinute, grant.currency);
        return page(
          `${platform.name} asks to charge your wallet`,
          `<p><strong>${esc(platform.name)}</strong> (${esc(platform.type)}) will charge your Fanfare ${esc(grant.currency)} wallet up to <strong>${esc(price)} per minute</strong> of content you play on it, billed while it plays. You can revoke this at any time.</p>` +
            `<form method="post" action="/consent/${esc(grant.code)}/approve"><p><label>Daily spending cap (optional, in ${esc(grant.currency)} minor units)<br><input name="dailyCap" inputmode="numeric" pattern="[0-9]*" value="${grant.dailyCap ?? ''}"></label></p>` +
            `<button type="submit">Approve</button></form><form method="post" action="/consent/${esc(grant.code)}/deny"><button type="submit">Deny</button></form>`,
        );
      } catch (err) {
        const e = errorPage(err);
        html(reply, e.status);
        return e.body;
      }
    });
    const formBody = z.object({ dailyCap: z.string().regex(/^\d{0,9}$/).optional() }).passthrough();
    app.post('/consent/:code/approve', { schema: { hide: true, params: code, body: formBody } }, async (req, reply) => {
      try {
        const cap = req.body.dailyCap ? Number(req.body.dailyCap) : null;
        if (cap === 0) throw new AppError('bad_request', 'The daily cap must be more than 0');
        const g = await svc.approve(req.actor, req.params.code, { dailyCap: cap });
        html(reply, 200);
        return page('Approved', `<p>You approved charges of up to ${esc(formatMoney(g.pricePerMinute, g.currency))} a minute${g.dailyCap ? `, at most ${esc(formatMoney(g.dailyCap, g.currency))} a day` : ''}. You can go back to the platform.</p>`);
      } catch (err) {
        const e = errorPage(err);
        html(reply, e.status);
        return e.body;
      }
    });
    app.post('/consent/:code/deny', { schema: { hide: true, params: code } }, async (req, reply) => {
      try {
        await svc.deny(req.actor, req.params.code);
        html(reply, 200);
        return page('Denied', '<p>The platform cannot charge you.</p>');
      } catch (err) {
        const e = errorPage(err);
        html(reply, e.status);
        return e.body;
      }
    });
  };
