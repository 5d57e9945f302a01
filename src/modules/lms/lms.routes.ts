import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorScope } from '../../core/actor.ts';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { lmsPlatforms, lmsStatuses } from './lms.schema.ts';
import type { LmsConnection, LmsService } from './lms.service.ts';

/**
 * The site's base address: http or https only, no credentials, query or fragment (the API paths
 * are appended to it). Stored without a trailing slash.
 */
const siteUrl = z
  .string()
  .trim()
  .max(500)
  .superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL such as https://moodle.example.edu' });
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must be an http or https URL' });
    else if (u.username || u.password) ctx.addIssue({ code: 'custom', message: 'must not contain a user name or password' });
    else if (u.search || u.hash || v.includes('?') || v.includes('#')) ctx.addIssue({ code: 'custom', message: 'must be the site address without a query or fragment' });
  })
  .transform((v) => {
    const u = new URL(v);
    return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
  })
  .describe("The site's address, e.g. https://moodle.example.edu or https://school.instructure.com");

const apiKey = z.string().trim().min(1).max(500).describe('Moodle: a web service token; Canvas: an access token. Stored encrypted, never returned.');
const apiSecret = z.string().trim().min(1).max(500).nullable().describe('A secret some set-ups need besides the key. Stored encrypted, never returned.');

const courseSchema = z.object({ id: z.string(), name: z.string(), code: z.string().nullable() });
const connectionSchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid().describe('Who connected it'),
    organizationId: z.uuid().nullable().describe('The partner organization it belongs to; null for a personal connection'),
    platform: z.enum(lmsPlatforms),
    url: z.string(),
    status: z.enum(lmsStatuses).describe('active: usable; inactive: switched off by its owner; error: the last test or sync failed (see lastError)'),
    hasApiKey: z.boolean(),
    hasApiSecret: z.boolean(),
    siteName: z.string().nullable().describe('What the last successful test saw: the Moodle site name, or the Canvas host'),
    lastTestedAt: z.date().nullable(),
    lastSyncAt: z.date().nullable(),
    lastError: z.string().nullable(),
    courseCount: z.number().int().nullable().describe('Courses the last sync found'),
    courses: z.array(courseSchema).nullable().describe('The first 100 of them'),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'LmsConnection' });

const toDto = (c: LmsConnection): z.infer<typeof connectionSchema> => ({
  id: c.id,
  userId: c.userId,
  organizationId: c.organizationId,
  platform: c.platform,
  url: c.url,
  status: c.status,
  hasApiKey: c.hasApiKey,
  hasApiSecret: c.hasApiSecret,
  siteName: c.siteName,
  lastTestedAt: c.lastTestedAt,
  lastSyncAt: c.lastSyncAt,
  lastError: c.lastError,
  courseCount: c.courseCount,
  courses: c.courses,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

export const lmsRoutes =
  (lms: LmsService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['lms'];
    const params = z.object({ id: z.uuid() });
    // Each test or sync makes calls to another server: a caller may not turn Fanfare into a
    // request cannon against a site, whoever's key it is.
    const outbound = (group: string) => ({
      rateLimit: { max: 30, timeWindow: 60_000, groupId: `lms-${group}`, keyGenerator: (req: FastifyRequest) => actorScope(req.actor) },
    });

    app.post(
      '/v1/lms/connections',
      {
        schema: {
          tags,
          summary: 'Connect a Moodle or Canvas site',
          description: 'Personal, or for an organization when `organizationId` is given (needs lms.manage there). Use POST …/test to check the key.',
          body: z
            .object({
              organizationId: z.uuid().optional(),
              platform: z.enum(lmsPlatforms),
              url: siteUrl,
              apiKey,
              apiSecret: apiSecret.optional(),
            })
            .strict(),
          response: { 201: connectionSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => reply.status(201).send(toDto(await lms.create(req.actor, req.body))),
    );

    app.get(
      '/v1/lms/connections',
      {
        schema: {
          tags,
          summary: 'My LMS connections, or an organization’s, newest first',
          querystring: pageQuery.extend({ organizationId: z.uuid().optional() }),
          response: { 200: pageSchema(connectionSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const page = await lms.list(req.actor, req.query);
        return { items: page.items.map(toDto), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/v1/lms/connections/:id',
      { schema: { tags, summary: 'An LMS connection', params, response: { 200: connectionSchema, ...errorResponses(400, 401, 403, 404) } } },
      async (req) => toDto(await lms.get(req.actor, req.params.id)),
    );

    app.patch(
      '/v1/lms/connections/:id',
      {
        schema: {
          tags,
          summary: 'Change the address, key or secret, or switch a connection on or off',
          description: 'A new address or key clears an `error` status until the next test.',
          params,
          body: z
            .object({ url: siteUrl, apiKey, apiSecret, status: z.enum(['active', 'inactive']) })
            .partial()
            .strict()
            .refine((v) => Object.keys(v).length > 0, 'give at least one field to change'),
          response: { 200: connectionSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toDto(await lms.update(req.actor, req.params.id, req.body)),
    );

    app.delete(
      '/v1/lms/connections/:id',
      { schema: { tags, summary: 'Remove an LMS connection and its stored key', params, response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) } } },
      async (req, reply) => {
        await lms.delete(req.actor, req.params.id);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/v1/lms/connections/:id/test',
      {
        config: outbound('test'),
        schema: {
          tags,
          summary: 'Test the connection with a real call to the site',
          description:
            'Moodle: core_webservice_get_site_info; Canvas: GET /api/v1/users/self. Answers 200 either way: `ok` says whether the site accepted the key, `error` why not. The outcome is recorded on the connection (status, lastSyncAt, lastError).',
          params,
          response: {
            200: z.object({
              ok: z.boolean(),
              error: z.object({ code: z.string(), message: z.string() }).nullable(),
              connection: connectionSchema,
            }),
            ...errorResponses(400, 401, 403, 404, 429),
          },
        },
      },
      async (req) => {
        const result = await lms.test(req.actor, req.params.id);
        return { ok: result.ok, error: result.error, connection: toDto(result.connection) };
      },
    );

    app.post(
      '/v1/lms/connections/:id/sync',
      {
        config: outbound('sync'),
        schema: {
          tags,
          summary: 'Fetch the site’s courses in the background',
          description: 'Queues a job that stores the course count and the first 100 courses and sets lastSyncAt; a failure sets status error and lastError.',
          params,
          response: { 202: z.object({ queued: z.literal(true), jobId: z.string().nullable() }), ...errorResponses(400, 401, 403, 404, 409, 429) },
        },
      },
      async (req, reply) => reply.status(202).send(await lms.requestSync(req.actor, req.params.id)),
    );
  };
