import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { companySizes, invitationStatuses, memberRoles, memberStatuses, organizationTypes } from './organizations.schema.ts';
import type { OrganizationService } from './organizations.service.ts';

const slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and inner hyphens, up to 63 characters');
const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #1a2b3c');
const settings = z.record(z.string(), z.unknown()).refine((v) => JSON.stringify(v).length <= 20_000, 'settings are limited to 20 kB');
const orgId = z.object({ orgId: z.uuid() });

const organizationSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    ownerId: z.uuid(),
    logoUrl: z.string().nullable(),
    website: z.string().nullable(),
    industry: z.string().nullable(),
    companySize: z.string().nullable(),
    type: z.string(),
    settings: z.record(z.string(), z.unknown()),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'Organization' });

const organizationFields = z.object({
  name: z.string().trim().min(1).max(255),
  slug,
  type: z.enum(organizationTypes),
  logoUrl: z.url().max(2000).nullable(),
  website: z.url().max(255).nullable(),
  industry: z.string().max(100).nullable(),
  companySize: z.enum(companySizes).nullable(),
  settings,
});

const memberSchema = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  userId: z.uuid(),
  email: z.string().optional(),
  name: z.string().optional(),
  role: z.enum(memberRoles),
  permissions: z.record(z.string(), z.boolean()),
  clientAccountId: z.uuid().nullable(),
  invitedBy: z.uuid().nullable(),
  invitedAt: z.date().nullable(),
  joinedAt: z.date().nullable(),
  status: z.enum(memberStatuses),
  createdAt: z.date(),
  updatedAt: z.date(),
});

const invitationSchema = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  email: z.string(),
  role: z.enum(memberRoles),
  clientAccountId: z.uuid().nullable(),
  status: z.enum(invitationStatuses),
  invitedBy: z.uuid(),
  expiresAt: z.date(),
  acceptedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  createdAt: z.date(),
});

const clientSchema = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  name: z.string(),
  slug: z.string(),
  contactEmail: z.string().nullable(),
  contactPhone: z.string().nullable(),
  logoUrl: z.string().nullable(),
  brandColors: z.object({ primary: z.string().optional(), secondary: z.string().optional() }).nullable(),
  settings: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
  updatedAt: z.date(),
});

const clientFields = z.object({
  name: z.string().trim().min(1).max(255),
  slug,
  contactEmail: z.email().max(255).nullable(),
  contactPhone: z
    .string()
    .regex(/^\+?[0-9 ()-]{5,20}$/, 'must be a phone number')
    .nullable(),
  logoUrl: z.url().max(2000).nullable(),
  brandColors: z.object({ primary: hexColor.optional(), secondary: hexColor.optional() }).strict().nullable(),
  settings,
});

const nonEmpty = <T extends z.ZodObject>(s: T) =>
  s
    .partial()
    .strict()
    .refine((v) => Object.keys(v).length > 0, 'give at least one field to change');

export const organizationRoutes = (orgs: OrganizationService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['organizations'];

    app.post(
      '/v1/orgs',
      {
        schema: {
          tags,
          summary: 'Create an organization (you become its owner)',
          body: organizationFields.partial({ slug: true, type: true, logoUrl: true, website: true, industry: true, companySize: true, settings: true }).strict(),
          response: { 201: organizationSchema, ...errorResponses(400, 401, 409) },
        },
      },
      async (req, reply) => reply.status(201).send(await orgs.create(req.actor, req.body)),
    );

    app.get(
      '/v1/orgs',
      {
        schema: {
          tags,
          summary: 'Organizations I belong to',
          response: { 200: z.object({ items: z.array(organizationSchema.extend({ memberRole: z.enum(memberRoles) })) }), ...errorResponses(401) },
        },
      },
      async (req) => ({ items: await orgs.listMine(req.actor) }),
    );

    app.get(
      '/v1/orgs/:orgId',
      { schema: { tags, summary: 'An organization', params: orgId, response: { 200: organizationSchema, ...errorResponses(400, 401, 403, 404) } } },
      (req) => orgs.get(req.actor, req.params.orgId),
    );

    app.patch(
      '/v1/orgs/:orgId',
      {
        schema: { tags, summary: 'Update an organization', params: orgId, body: nonEmpty(organizationFields), response: { 200: organizationSchema, ...errorResponses(400, 401, 403, 404, 409) } },
      },
      (req) => orgs.update(req.actor, req.params.orgId, req.body),
    );

    app.delete(
      '/v1/orgs/:orgId',
      { schema: { tags, summary: 'Delete an organization (owner only)', params: orgId, response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) } } },
      async (req, reply) => {
        await orgs.remove(req.actor, req.params.orgId);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/orgs/:orgId/members',
      { schema: { tags, summary: 'Members of an organization', params: orgId, querystring: pageQuery, response: { 200: pageSchema(memberSchema), ...errorResponses(400, 401, 403, 404) } } },
      (req) => orgs.listMembers(req.actor, req.params.orgId, req.query),
    );

    app.patch(
      '/v1/orgs/:orgId/members/:memberId',
      {
        schema: {
          tags,
          summary: "Change a member's role",
          params: orgId.extend({ memberId: z.uuid() }),
          body: z.object({ role: z.enum(memberRoles).exclude(['owner']), clientAccountId: z.uuid().nullable().optional() }).strict(),
          response: { 200: memberSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      (req) => orgs.changeMemberRole(req.actor, req.params.orgId, req.params.memberId, req.body.role, req.body.clientAccountId),
    );

    app.delete(
      '/v1/orgs/:orgId/members/:memberId',
      {
        schema: {
          tags,
          summary: 'Remove a member, or leave',
          description: 'The member loses access at once.',
          params: orgId.extend({ memberId: z.uuid() }),
          response: { 204: z.null(), ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req, reply) => {
        await orgs.removeMember(req.actor, req.params.orgId, req.params.memberId);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/v1/orgs/:orgId/invitations',
      {
        schema: {
          tags,
          summary: 'Invite someone by e-mail',
          description: 'Mails a token valid for 7 days. Owners may invite admins; admins may invite managers, creators and clients.',
          params: orgId,
          body: z
            .object({ email: z.email().max(255), role: z.enum(memberRoles).exclude(['owner']), clientAccountId: z.uuid().optional() })
            .strict(),
          response: { 201: invitationSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req, reply) => reply.status(201).send(await orgs.invite(req.actor, req.params.orgId, req.body)),
    );

    app.get(
      '/v1/orgs/:orgId/invitations',
      {
        schema: {
          tags,
          summary: 'Invitations of an organization',
          params: orgId,
          querystring: pageQuery.extend({ status: z.enum(invitationStatuses).optional() }),
          response: { 200: pageSchema(invitationSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      (req) => orgs.listInvitations(req.actor, req.params.orgId, req.query),
    );

    app.delete(
      '/v1/orgs/:orgId/invitations/:invitationId',
      {
        schema: {
          tags,
          summary: 'Revoke a pending invitation',
          params: orgId.extend({ invitationId: z.uuid() }),
          response: { 200: invitationSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      (req) => orgs.revokeInvitation(req.actor, req.params.orgId, req.params.invitationId),
    );

    app.post(
      '/v1/invitations/accept',
      {
        schema: {
          tags,
          summary: 'Accept an invitation',
          description: 'Signed in with the invited e-mail address, with the token from the invitation mail.',
          body: z.object({ token: z.string().min(20).max(200) }).strict(),
          response: { 201: memberSchema, ...errorResponses(400, 401, 403, 404, 409, 410) },
        },
      },
      async (req, reply) => reply.status(201).send(await orgs.acceptInvitation(req.actor, req.body.token)),
    );

    app.post(
      '/v1/orgs/:orgId/clients',
      {
        schema: {
          tags: ['clients'],
          summary: 'Add a client account (agencies)',
          params: orgId,
          body: clientFields.partial({ slug: true, contactEmail: true, contactPhone: true, logoUrl: true, brandColors: true, settings: true }).strict(),
          response: { 201: clientSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req, reply) => reply.status(201).send(await orgs.createClient(req.actor, req.params.orgId, req.body)),
    );

    app.get(
      '/v1/orgs/:orgId/clients',
      { schema: { tags: ['clients'], summary: 'Client accounts', params: orgId, querystring: pageQuery, response: { 200: pageSchema(clientSchema), ...errorResponses(400, 401, 403, 404) } } },
      (req) => orgs.listClients(req.actor, req.params.orgId, req.query),
    );

    const clientParams = orgId.extend({ clientId: z.uuid() });
    app.get(
      '/v1/orgs/:orgId/clients/:clientId',
      { schema: { tags: ['clients'], summary: 'A client account', params: clientParams, response: { 200: clientSchema, ...errorResponses(400, 401, 403, 404) } } },
      (req) => orgs.getClient(req.actor, req.params.orgId, req.params.clientId),
    );

    app.patch(
      '/v1/orgs/:orgId/clients/:clientId',
      {
        schema: { tags: ['clients'], summary: 'Update a client account', params: clientParams, body: nonEmpty(clientFields), response: { 200: clientSchema, ...errorResponses(400, 401, 403, 404, 409) } },
      },
      (req) => orgs.updateClient(req.actor, req.params.orgId, req.params.clientId, req.body),
    );

    app.delete(
      '/v1/orgs/:orgId/clients/:clientId',
      { schema: { tags: ['clients'], summary: 'Delete a client account', params: clientParams, response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) } } },
      async (req, reply) => {
        await orgs.removeClient(req.actor, req.params.orgId, req.params.clientId);
        return reply.status(204).send(null);
      },
    );
  };
