import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeyScopes } from '../../core/access.ts';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { ApiKey } from './apikeys.repository.ts';
import type { ApiKeyService } from './apikeys.service.ts';

const apiKeySchema = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  name: z.string(),
  start: z.string().describe('The first characters of the key'),
  scopes: z.array(z.string()),
  createdBy: z.uuid().nullable(),
  lastUsedAt: z.date().nullable(),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  createdAt: z.date(),
});
const toDto = (k: ApiKey): z.infer<typeof apiKeySchema> => ({
  id: k.id,
  organizationId: k.organizationId,
  name: k.name,
  start: k.start,
  scopes: k.scopes,
  createdBy: k.createdBy,
  lastUsedAt: k.lastUsedAt,
  expiresAt: k.expiresAt,
  revokedAt: k.revokedAt,
  createdAt: k.createdAt,
});

export const apiKeyRoutes = (keys: ApiKeyService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['api keys'];
    const orgId = z.object({ orgId: z.uuid() });

    app.post(
      '/v1/orgs/:orgId/api-keys',
      {
        schema: {
          tags,
          summary: 'Create an organization API key',
          description: 'The key (`secret`) is shown in this response only; Fanfare keeps a hash.',
          params: orgId,
          body: z
            .object({
              name: z.string().trim().min(1).max(100),
              scopes: z.array(z.enum(apiKeyScopes)).min(1),
              expiresAt: z.coerce.date().optional(),
            })
            .strict(),
          response: { 201: apiKeySchema.extend({ secret: z.string() }), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        const { apiKey, secret } = await keys.create(req.actor, req.params.orgId, req.body);
        return reply.status(201).send({ ...toDto(apiKey), secret });
      },
    );

    app.get(
      '/v1/orgs/:orgId/api-keys',
      { schema: { tags, summary: 'API keys of an organization', params: orgId, querystring: pageQuery, response: { 200: pageSchema(apiKeySchema), ...errorResponses(400, 401, 403, 404) } } },
      async (req) => {
        const page = await keys.list(req.actor, req.params.orgId, req.query);
        return { items: page.items.map(toDto), nextCursor: page.nextCursor };
      },
    );

    app.delete(
      '/v1/orgs/:orgId/api-keys/:keyId',
      {
        schema: {
          tags,
          summary: 'Revoke an API key',
          description: 'Takes effect on the next request.',
          params: orgId.extend({ keyId: z.uuid() }),
          response: { 200: apiKeySchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toDto(await keys.revoke(req.actor, req.params.orgId, req.params.keyId)),
    );

    app.get(
      '/v1/api-key',
      {
        schema: {
          tags,
          summary: 'Describe the API key making this request',
          response: { 200: z.object({ apiKeyId: z.uuid(), organizationId: z.uuid(), scopes: z.array(z.string()) }), ...errorResponses(401) },
        },
      },
      (req) => {
        const who = keys.whoami(req.actor);
        return { ...who, scopes: [...who.scopes] };
      },
    );
  };
