import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { AuditService } from './audit.service.ts';

const auditLog = z.object({
  id: z.uuid(),
  userId: z.uuid().nullable(),
  organizationId: z.uuid().nullable(),
  action: z.string(),
  resourceType: z.string().nullable(),
  resourceId: z.uuid().nullable(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
});

export const auditRoutes = (audit: AuditService): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/orgs/:orgId/audit-logs',
      {
        schema: {
          tags: ['organizations'],
          summary: "List an organization's audit log",
          params: z.object({ orgId: z.uuid() }),
          querystring: pageQuery.extend({ action: z.string().max(100).optional() }),
          response: { 200: pageSchema(auditLog), ...errorResponses(400, 401, 403, 404) },
        },
      },
      (req) => audit.listForOrganization(req.actor, req.params.orgId, req.query),
    );
    app.get(
      '/v1/admin/audit-logs',
      {
        schema: {
          tags: ['operator'],
          summary: 'List the platform audit log (operators)',
          querystring: pageQuery.extend({ action: z.string().max(100).optional(), userId: z.uuid().optional() }),
          response: { 200: pageSchema(auditLog), ...errorResponses(400, 401, 403) },
        },
      },
      (req) => audit.listAll(req.actor, req.query),
    );
  };
