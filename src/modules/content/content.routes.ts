import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { currencySchema } from '../../core/money.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { paymentSchema, toPaymentDto } from '../payments/index.ts';
import type { ContentAccessRow, Purchase, Series, Settings } from './content.repository.ts';
import { contentStatuses, contentTypes, purchaseStatuses, visibilities } from './content.schema.ts';
import type { ContentService, ContentView } from './content.service.ts';
import type { PlaybackService } from './playback.service.ts';
import type { PurchaseService } from './purchases.service.ts';
import type { ThumbnailService } from './thumbnails.service.ts';

const price = z.number().int().positive().max(100_000_000).nullable();
const tag = z.string().trim().min(1).max(50);
const slug = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lower-case letters, digits and single dashes');
const url = z.url().max(2000);

const contentSchema = z.object({
  id: z.uuid(),
  creatorId: z.uuid(),
  organizationId: z.uuid().nullable(),
  mediaItemId: z.uuid().nullable(),
  title: z.string(),
  slug: z.string(),
  description: z.string().nullable(),
  contentType: z.enum(contentTypes),
  /** The effective thumbnail: the creator's own URL, else Fanfare's URL of the generated one. */
  thumbnailUrl: z.string().nullable(),
  thumbnailSource: z.enum(['custom', 'generated']).nullable(),
  contentBody: z.string().nullable(),
  category: z.string().nullable(),
  tags: z.array(z.string()),
  seriesId: z.uuid().nullable(),
  visibility: z.enum(visibilities),
  priceCents: z.number().int().nullable(),
  currency: z.string(),
  status: z.enum(contentStatuses),
  publishedAt: z.date().nullable(),
  viewCount: z.number().int(),
  purchaseCount: z.number().int(),
  prerequisiteContentIds: z.array(z.string()),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const toContentDto = (c: ContentView) => {
  const { search: _search, deletedAt: _deleted, ...rest } = c;
  return rest;
};
/** What customers see in the catalog: no body of written content they have not opened. */
const catalogSchema = contentSchema.omit({ contentBody: true });
const toCatalogDto = (c: ContentView) => {
  const { contentBody: _body, ...rest } = toContentDto(c);
  return rest;
};

const seriesSchema = z.object({
  id: z.uuid(),
  creatorId: z.uuid(),
  organizationId: z.uuid().nullable(),
  title: z.string(),
  slug: z.string(),
  description: z.string().nullable(),
  thumbnailUrl: z.string().nullable(),
  priceCents: z.number().int().nullable(),
  currency: z.string(),
  contentOrder: z.array(z.string()),
  status: z.enum(contentStatuses),
  publishedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const toSeriesDto = (s: Series) => {
  const { deletedAt: _d, ...rest } = s;
  return rest;
};

const settingsSchema = z.object({
  organizationId: z.uuid().nullable(),
  platformName: z.string(),
  logoUrl: z.string().nullable(),
  primaryColor: z.string(),
  heroTitle: z.string().nullable(),
  heroSubtitle: z.string().nullable(),
  heroBackgroundUrl: z.string().nullable(),
  heroCtaText: z.string().nullable(),
  heroCtaLink: z.string().nullable(),
  featuredContentIds: z.array(z.string()),
  contactEmail: z.string().nullable(),
  socialLinks: z.record(z.string(), z.string()),
  aboutContent: z.string().nullable(),
  emailFromName: z.string().nullable(),
  timezone: z.string(),
  platformFeeBps: z.number().int().nullable(),
  updatedAt: z.date().nullable(),
});
const defaultSettings = (organizationId: string | null) => ({
  organizationId,
  platformName: 'My Platform',
  logoUrl: null,
  primaryColor: '#3b82f6',
  heroTitle: null,
  heroSubtitle: null,
  heroBackgroundUrl: null,
  heroCtaText: null,
  heroCtaLink: null,
  featuredContentIds: [],
  contactEmail: null,
  socialLinks: {},
  aboutContent: null,
  emailFromName: null,
  timezone: 'UTC',
  platformFeeBps: null,
  updatedAt: null,
});
const toSettingsDto = (s: Settings | null, organizationId: string | null) => {
  if (!s) return defaultSettings(organizationId);
  const { id: _id, createdAt: _c, stripeAccountId: _s, ...rest } = s;
  return rest;
};
const settingsBody = z
  .object({
    platformName: z.string().trim().min(1).max(255),
    logoUrl: url.nullable(),
    primaryColor: z.string().regex(/^#[0-9A-Fa-f]{6}$/, 'a colour as #RRGGBB'),
    heroTitle: z.string().max(500).nullable(),
    heroSubtitle: z.string().max(5000).nullable(),
    heroBackgroundUrl: url.nullable(),
    heroCtaText: z.string().max(100).nullable(),
    heroCtaLink: z.string().max(500).nullable(),
    featuredContentIds: z.array(z.uuid()).max(50),
    contactEmail: z.email().max(255).nullable(),
    socialLinks: z
      .record(z.string().regex(/^[a-z0-9_]{1,30}$/, 'a network name such as instagram'), url)
      .refine((r) => Object.keys(r).length <= 20, 'at most 20 links'),
    aboutContent: z.string().max(100_000).nullable(),
    emailFromName: z.string().max(255).nullable(),
    timezone: z.string().min(1).max(50),
    /** The platform's own Stripe account (operators, platform settings only; never shown publicly). */
    stripeAccountId: z.string().regex(/^acct_\w{1,250}$/, 'a Stripe account id (acct_…)').nullable(),
  })
  .partial()
  .strict();

const purchaseSchema = z.object({
  id: z.uuid(),
  customerId: z.uuid(),
  contentId: z.uuid().nullable(),
  seriesId: z.uuid().nullable(),
  creatorId: z.uuid(),
  organizationId: z.uuid().nullable(),
  paymentId: z.uuid().nullable(),
  amountPaidCents: z.number().int(),
  currency: z.string(),
  stripePaymentIntentId: z.string().nullable(),
  platformFeeCents: z.number().int(),
  creatorPayoutCents: z.number().int(),
  platformFeeBps: z.number().int(),
  platformFeeSource: z.string(),
  status: z.enum(purchaseStatuses),
  purchasedAt: z.date().nullable(),
  refundedAt: z.date().nullable(),
  refundReason: z.string().nullable(),
  expiresAt: z.date(),
  createdAt: z.date(),
});
const toPurchaseDto = (p: Purchase) => {
  const { updatedAt: _u, ...rest } = p;
  return rest;
};
const grantSchema = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  contentId: z.uuid(),
  accessType: z.string(),
  grantedAt: z.date(),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});
const toGrantDto = (g: ContentAccessRow) => ({
  id: g.id,
  userId: g.userId,
  contentId: g.contentId,
  accessType: g.accessType,
  grantedAt: g.grantedAt,
  expiresAt: g.expiresAt,
  revokedAt: g.revokedAt,
});

const contentBody = z
  .object({
    organizationId: z.uuid().nullable().optional(),
    contentType: z.enum(contentTypes),
    mediaItemId: z.uuid().nullable().optional(),
    title: z.string().trim().min(1).max(500),
    slug: slug.optional(),
    description: z.string().max(20_000).nullable().optional(),
    thumbnailUrl: url.nullable().optional(),
    contentBody: z.string().max(1_000_000).nullable().optional(),
    category: z.string().trim().min(1).max(100).nullable().optional(),
    tags: z.array(tag).max(30).optional(),
    visibility: z.enum(visibilities).optional(),
    priceCents: price.optional(),
    currency: currencySchema.optional(),
    prerequisiteContentIds: z.array(z.uuid()).max(20).optional(),
  })
  .strict();
const contentPatch = contentBody.omit({ organizationId: true, contentType: true }).partial().strict();
const seriesBody = z
  .object({
    organizationId: z.uuid().nullable().optional(),
    title: z.string().trim().min(1).max(500),
    slug: slug.optional(),
    description: z.string().max(20_000).nullable().optional(),
    thumbnailUrl: url.nullable().optional(),
    priceCents: price.optional(),
    currency: currencySchema.optional(),
  })
  .strict();

const idParam = z.object({ id: z.uuid() });
const orgParam = z.object({ orgId: z.uuid() });
const feeBody = z.object({ platformFeeBps: z.number().int().min(0).max(10_000).nullable() }).strict();
const playbackSchema = z.object({
  allowed: z.literal(true),
  reason: z.string(),
  accessExpiresAt: z.date().nullable(),
  contentType: z.enum(['video', 'audio']),
  durationSeconds: z.number().int().nullable(),
  masterPlaylistUrl: z.string(),
  urlExpiresAt: z.date(),
});
const progressSchema = z.object({
  contentId: z.uuid(),
  positionSeconds: z.number().int(),
  durationSeconds: z.number().int().nullable(),
  completed: z.boolean(),
  updatedAt: z.date().nullable(),
});
const progressBody = z
  .object({
    positionSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400 * 7),
    durationSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400 * 7),
  })
  .strict()
  .refine((b) => b.positionSeconds <= b.durationSeconds, {
    message: 'must not be beyond durationSeconds',
    path: ['positionSeconds'],
  });

export const contentRoutes =
  (
    content: ContentService,
    purchases: PurchaseService,
    playback: PlaybackService,
    thumbnails: ThumbnailService,
  ): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['content'];
    // --- creator: content ----------------------------------------------------------------------
    app.post(
      '/v1/content',
      {
        schema: {
          tags,
          summary: 'Create content (video/audio on a media item of yours, or written)',
          body: contentBody,
          response: { 201: contentSchema, ...errorResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (req, reply) => reply.status(201).send(toContentDto(await content.create(req.actor, req.body))),
    );
    app.get(
      '/v1/content',
      {
        schema: {
          tags,
          summary: 'Content I manage: my personal content, or an organization’s with organizationId',
          querystring: pageQuery.extend({
            organizationId: z.uuid().optional(),
            status: z.enum(contentStatuses).optional(),
          }),
          response: { 200: pageSchema(contentSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const page = await content.listManaged(req.actor, req.query.organizationId ?? null, req.query);
        return { items: page.items.map(toContentDto), nextCursor: page.nextCursor };
      },
    );
    app.get(
      '/v1/content/:id',
      {
        schema: {
          tags,
          summary: 'A content I manage',
          params: idParam,
          response: { 200: contentSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => toContentDto(await content.get(req.actor, req.params.id)),
    );
    app.patch(
      '/v1/content/:id',
      {
        schema: {
          tags,
          summary: 'Change a content',
          params: idParam,
          body: contentPatch,
          response: { 200: contentSchema, ...errorResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (req) => toContentDto(await content.update(req.actor, req.params.id, req.body)),
    );
    for (const [action, status] of [
      ['publish', 'published'],
      ['archive', 'archived'],
      ['unpublish', 'draft'],
    ] as const) {
      app.post(
        `/v1/content/:id/${action}`,
        {
          schema: {
            tags,
            summary: `Set a content ${status}`,
            params: idParam,
            response: { 200: contentSchema, ...errorResponses(400, 401, 403, 404, 409) },
          },
        },
        async (req) => toContentDto(await content.setStatus(req.actor, req.params.id, status)),
      );
    }
    app.delete(
      '/v1/content/:id',
      {
        schema: {
          tags,
          summary: 'Delete a content (soft)',
          params: idParam,
          response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        await content.remove(req.actor, req.params.id);
        return reply.status(204).send(null);
      },
    );
    app.post(
      '/v1/content/:id/access',
      {
        schema: {
          tags,
          summary:
            'Grant complimentary or preview access to a user (by id or e-mail), optionally until expiresAt',
          params: idParam,
          body: z
            .object({
              userId: z.uuid().optional(),
              email: z.email().optional(),
              accessType: z.enum(['complimentary', 'preview']).default('complimentary'),
              expiresAt: z.coerce.date().nullable().optional(),
            })
            .strict()
            .refine((b) => !!b.userId !== !!b.email, { message: 'give userId or email', path: ['userId'] }),
          response: { 201: grantSchema, ...errorResponses(400, 401, 403, 404, 422) },
        },
      },
      async (req, reply) =>
        reply.status(201).send(toGrantDto(await purchases.grant(req.actor, req.params.id, req.body))),
    );
    app.delete(
      '/v1/content/:id/access/:userId',
      {
        schema: {
          tags,
          summary: 'Revoke a grant',
          params: idParam.extend({ userId: z.uuid() }),
          response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        await purchases.revoke(req.actor, req.params.id, req.params.userId);
        return reply.status(204).send(null);
      },
    );

    // --- creator: series ---------------------------------------------------------------------
    app.post(
      '/v1/series',
      {
        schema: {
          tags,
          summary: 'Create a series',
          body: seriesBody,
          response: { 201: seriesSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req, reply) =>
        reply.status(201).send(toSeriesDto(await content.createSeries(req.actor, req.body))),
    );
    app.get(
      '/v1/series/:id',
      {
        schema: {
          tags,
          summary: 'A series I manage',
          params: idParam,
          response: { 200: seriesSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => toSeriesDto(await content.getSeries(req.actor, req.params.id)),
    );
    app.patch(
      '/v1/series/:id',
      {
        schema: {
          tags,
          summary: 'Change a series (status publishes it)',
          params: idParam,
          body: seriesBody
            .omit({ organizationId: true })
            .partial()
            .extend({ status: z.enum(contentStatuses).optional() })
            .strict(),
          response: { 200: seriesSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toSeriesDto(await content.updateSeries(req.actor, req.params.id, req.body)),
    );
    app.put(
      '/v1/series/:id/items',
      {
        schema: {
          tags,
          summary: 'Set the ordered items of a series',
          params: idParam,
          body: z.object({ contentIds: z.array(z.uuid()).max(500) }).strict(),
          response: { 200: seriesSchema, ...errorResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (req) => toSeriesDto(await content.setSeriesItems(req.actor, req.params.id, req.body.contentIds)),
    );
    app.delete(
      '/v1/series/:id',
      {
        schema: {
          tags,
          summary: 'Delete a series (soft)',
          params: idParam,
          response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        await content.removeSeries(req.actor, req.params.id);
        return reply.status(204).send(null);
      },
    );

    // --- catalog -----------------------------------------------------------------------------
    app.get(
      '/v1/catalog',
      {
        schema: {
          tags: ['catalog'],
          summary: 'Browse published content: full-text search (q) and filters',
          security: [],
          querystring: pageQuery.extend({
            q: z.string().trim().min(1).max(200).optional(),
            category: z.string().max(100).optional(),
            tag: z.string().max(50).optional(),
            type: z.enum(contentTypes).optional(),
            seriesId: z.uuid().optional(),
            organizationId: z.uuid().optional(),
            creatorId: z.uuid().optional(),
          }),
          response: { 200: pageSchema(catalogSchema), ...errorResponses(400) },
        },
      },
      async (req) => {
        const page = await content.catalog(req.actor, req.query);
        return { items: page.items.map(toCatalogDto), nextCursor: page.nextCursor };
      },
    );
    app.get(
      '/v1/catalog/:id',
      {
        schema: {
          tags: ['catalog'],
          summary: 'A published content',
          security: [],
          params: idParam,
          response: { 200: catalogSchema, ...errorResponses(400, 404) },
        },
      },
      async (req) => toCatalogDto(await content.catalogItem(req.actor, req.params.id)),
    );
    app.get(
      '/v1/catalog/series/:id',
      {
        schema: {
          tags: ['catalog'],
          summary: 'A published series and its items in order',
          security: [],
          params: idParam,
          response: {
            200: z.object({ series: seriesSchema, items: z.array(catalogSchema) }),
            ...errorResponses(400, 404),
          },
        },
      },
      async (req) => {
        const { series, items } = await content.catalogSeries(req.actor, req.params.id);
        return { series: toSeriesDto(series), items: items.map(toCatalogDto) };
      },
    );

    // --- purchases ---------------------------------------------------------------------------
    app.post(
      '/v1/purchases',
      {
        schema: {
          tags: ['purchases'],
          summary: 'Buy a content or a series',
          description:
            'Creates the purchase (pending) and the payment with the provider; access is granted when the provider’s verified webhook confirms it. Send an Idempotency-Key. One live checkout per customer and item: a second answers the first (200).',
          body: z
            .object({
              contentId: z.uuid().optional(),
              seriesId: z.uuid().optional(),
              paymentMethod: z.string().min(1).max(100).default('pm_card_visa'),
            })
            .strict()
            .refine((b) => !!b.contentId !== !!b.seriesId, {
              message: 'give contentId or seriesId',
              path: ['contentId'],
            }),
          response: {
            200: z.object({
              purchase: purchaseSchema,
              payment: paymentSchema.nullable(),
              clientSecret: z.string().nullable(),
              nextActionUrl: z.string().nullable(),
            }),
            201: z.object({
              purchase: purchaseSchema,
              payment: paymentSchema.nullable(),
              clientSecret: z.string().nullable(),
              nextActionUrl: z.string().nullable(),
            }),
            ...errorResponses(400, 401, 404, 409, 422, 503),
          },
        },
      },
      async (req, reply) => {
        const r = await purchases.checkout(req.actor, req.body);
        return reply
          .status(r.created ? 201 : 200)
          .send({
            purchase: toPurchaseDto(r.purchase),
            payment: r.payment ? toPaymentDto(r.payment) : null,
            clientSecret: r.clientSecret,
            nextActionUrl: r.nextActionUrl,
          });
      },
    );
    app.get(
      '/v1/purchases',
      {
        schema: {
          tags: ['purchases'],
          summary: 'My purchases',
          querystring: pageQuery,
          response: { 200: pageSchema(purchaseSchema), ...errorResponses(400, 401) },
        },
      },
      async (req) => {
        const page = await purchases.mine(req.actor, req.query);
        return { items: page.items.map(toPurchaseDto), nextCursor: page.nextCursor };
      },
    );
    app.get(
      '/v1/purchases/:id',
      {
        schema: {
          tags: ['purchases'],
          summary: 'A purchase (mine, or a sale of mine)',
          params: idParam,
          response: { 200: purchaseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => toPurchaseDto(await purchases.get(req.actor, req.params.id)),
    );
    app.post(
      '/v1/purchases/:id/refund',
      {
        schema: {
          tags: ['purchases'],
          summary: 'Refund a sale in full (the seller); access ends and the customer is told',
          params: idParam,
          body: z.object({ reason: z.string().trim().min(1).max(1000).optional() }).strict(),
          response: {
            200: z.object({ purchase: purchaseSchema, refundId: z.uuid(), refundStatus: z.string() }),
            ...errorResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (req) => {
        const r = await purchases.refund(req.actor, req.params.id, req.body);
        return { purchase: toPurchaseDto(r.purchase), refundId: r.refund.id, refundStatus: r.refund.status };
      },
    );
    app.get(
      '/v1/sales',
      {
        schema: {
          tags: ['purchases'],
          summary:
            'My sales (personal content), or an organization’s with organizationId, with totals per currency',
          querystring: pageQuery.extend({
            organizationId: z.uuid().optional(),
            status: z.enum(purchaseStatuses).optional(),
          }),
          response: {
            200: pageSchema(purchaseSchema).extend({
              totals: z.array(
                z.object({
                  currency: z.string(),
                  count: z.number(),
                  refunds: z.number(),
                  grossCents: z.number(),
                  platformFeeCents: z.number(),
                  payoutCents: z.number(),
                  refundedCents: z.number(),
                }),
              ),
            }),
            ...errorResponses(400, 401, 403, 404),
          },
        },
      },
      async (req) => {
        const r = await purchases.sales(req.actor, req.query);
        return { items: r.items.map(toPurchaseDto), nextCursor: r.nextCursor, totals: r.totals };
      },
    );

    // --- playback ----------------------------------------------------------------------------
    const authorize = {
      tags: ['playback'],
      summary: 'May I play this now? Answers the reason and a signed master playlist URL',
      params: idParam,
      response: { 200: playbackSchema, ...errorResponses(400, 401, 402, 403, 404, 409, 422) },
    };
    app.post('/v1/content/:id/playback', { schema: authorize }, async (req) =>
      playback.authorize(req.actor, req.params.id),
    );
    app.get('/v1/content/:id/playback', { schema: authorize }, async (req) =>
      playback.authorize(req.actor, req.params.id),
    );
    const saveProgress = {
      tags: ['playback'],
      summary: 'Save my position (every 10-30 s); completed at 95 %',
      params: idParam,
      body: progressBody,
      response: { 200: progressSchema, ...errorResponses(400, 401, 402, 403, 404, 422) },
    };
    app.put('/v1/content/:id/progress', { schema: saveProgress }, async (req) =>
      playback.saveProgress(req.actor, req.params.id, req.body),
    );
    app.post('/v1/content/:id/progress', { schema: saveProgress }, async (req) =>
      playback.saveProgress(req.actor, req.params.id, req.body),
    );
    app.get(
      '/v1/content/:id/progress',
      {
        schema: {
          tags: ['playback'],
          summary: 'Where I stopped',
          params: idParam,
          response: { 200: progressSchema, ...errorResponses(400, 401, 402, 403, 404) },
        },
      },
      async (req) => playback.progress(req.actor, req.params.id),
    );
    app.get(
      '/v1/content/:id/thumbnail',
      {
        schema: {
          tags: ['catalog'],
          summary: 'A content’s thumbnail image (the generated one, or a redirect)',
          description:
            'A published, non-private content’s thumbnail is public; a draft’s or a private one’s only its creator’s and organization’s. Answers image/jpeg with an ETag (304 on If-None-Match), or 302 to the creator’s own URL or, with S3 storage, to a presigned URL. 404 while the media is transcoding or when it has no thumbnail.',
          security: [],
          params: idParam,
          querystring: z.object({ v: z.string().max(40).optional() }),
          response: {
            200: z.any().describe('the image bytes (image/jpeg)'),
            302: z.any().describe('to the creator’s own thumbnail, or a presigned storage URL'),
            304: z.any().describe('not modified since the ETag given in If-None-Match'),
            ...errorResponses(400, 404),
          },
        },
      },
      async (req, reply) => {
        const r = await thumbnails.serve(req.actor, req.params.id, req.headers['if-none-match']);
        reply.status(r.status).headers(r.headers);
        return reply.send(r.body ?? '');
      },
    );
    app.get(
      '/v1/me/continue-watching',
      {
        schema: {
          tags: ['playback'],
          summary: 'Continue watching: most recent first, unfinished, still accessible',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(50).default(20) }),
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  contentId: z.uuid(),
                  title: z.string(),
                  slug: z.string(),
                  contentType: z.string(),
                  thumbnailUrl: z.string().nullable(),
                  positionSeconds: z.number(),
                  durationSeconds: z.number(),
                  updatedAt: z.date(),
                  reason: z.string(),
                }),
              ),
            }),
            ...errorResponses(400, 401),
          },
        },
      },
      async (req) => ({ items: await playback.continueWatching(req.actor, req.query.limit) }),
    );
    app.get(
      '/v1/play/:token/*',
      {
        schema: {
          tags: ['playback'],
          summary: 'A signed playlist or segment (Range requests supported)',
          security: [],
          params: z.object({ token: z.string().min(10).max(2000), '*': z.string().min(1).max(500) }),
        },
      },
      async (req, reply) => {
        const r = await playback.play(req.params.token, req.params['*'], req.headers.range);
        reply.status(r.status).headers(r.headers);
        return reply.send(r.body ?? '');
      },
    );

    // --- settings ----------------------------------------------------------------------------
    const st = ['settings'];
    app.get(
      '/v1/settings',
      {
        schema: {
          tags: st,
          summary: 'The platform’s branding and homepage',
          security: [],
          response: { 200: settingsSchema },
        },
      },
      async (req) => toSettingsDto(await content.settings(req.actor, null), null),
    );
    app.put(
      '/v1/admin/settings',
      {
        schema: {
          tags: st,
          summary: 'Set the platform’s settings (operators)',
          body: settingsBody,
          response: { 200: settingsSchema, ...errorResponses(400, 401, 403, 422) },
        },
      },
      async (req) => toSettingsDto(await content.updateSettings(req.actor, null, req.body), null),
    );
    app.get(
      '/v1/orgs/:orgId/settings',
      {
        schema: {
          tags: st,
          summary: 'An organization’s branding and homepage',
          security: [],
          params: orgParam,
          response: { 200: settingsSchema, ...errorResponses(400) },
        },
      },
      async (req) => toSettingsDto(await content.settings(req.actor, req.params.orgId), req.params.orgId),
    );
    app.put(
      '/v1/orgs/:orgId/settings',
      {
        schema: {
          tags: st,
          summary: 'Set an organization’s settings (its admins)',
          params: orgParam,
          body: settingsBody,
          response: { 200: settingsSchema, ...errorResponses(400, 401, 403, 404, 422) },
        },
      },
      async (req) =>
        toSettingsDto(await content.updateSettings(req.actor, req.params.orgId, req.body), req.params.orgId),
    );
    app.put(
      '/v1/admin/fees/platform',
      {
        schema: {
          tags: st,
          summary: 'The platform default fee (operators; null = PLATFORM_FEE_BPS)',
          body: feeBody,
          response: { 200: settingsSchema, ...errorResponses(400, 401, 403) },
        },
      },
      async (req) => toSettingsDto(await content.setPlatformFee(req.actor, req.body.platformFeeBps), null),
    );
    app.put(
      '/v1/admin/fees/orgs/:orgId',
      {
        schema: {
          tags: st,
          summary: 'An organization’s platform fee (operators)',
          params: orgParam,
          body: feeBody,
          response: { 200: settingsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) =>
        toSettingsDto(
          await content.setOrgFee(req.actor, req.params.orgId, req.body.platformFeeBps),
          req.params.orgId,
        ),
    );
    app.put(
      '/v1/admin/fees/creators/:userId',
      {
        schema: {
          tags: st,
          summary: 'A creator’s own platform fee (operators)',
          params: z.object({ userId: z.uuid() }),
          body: feeBody,
          response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        await content.setCreatorFee(req.actor, req.params.userId, req.body.platformFeeBps);
        return reply.status(204).send(null);
      },
    );
  };
