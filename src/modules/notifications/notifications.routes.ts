import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { Notification } from './notifications.repository.ts';
import { notificationTypes } from './notifications.schema.ts';
import type { NotificationService, NotificationSettings } from './notifications.service.ts';

const notificationSchema = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  type: z.enum(notificationTypes),
  title: z.string(),
  message: z.string(),
  actionUrl: z.string().nullable(),
  actionLabel: z.string().nullable(),
  actorId: z.uuid().nullable(),
  relatedId: z.uuid().nullable(),
  organizationId: z.uuid().nullable(),
  data: z.record(z.string(), z.unknown()),
  isRead: z.boolean(),
  readAt: z.date().nullable(),
  createdAt: z.date(),
});
const toDto = (n: Notification): z.infer<typeof notificationSchema> => ({
  id: n.id,
  userId: n.userId,
  type: n.type,
  title: n.title,
  message: n.message,
  actionUrl: n.actionUrl,
  actionLabel: n.actionLabel,
  actorId: n.actorId,
  relatedId: n.relatedId,
  organizationId: n.organizationId,
  data: n.data,
  isRead: n.isRead,
  readAt: n.readAt,
  createdAt: n.createdAt,
});

const channelPreference = z.object({ inApp: z.boolean(), email: z.boolean() });
const settingsSchema = z.object({
  lowBalanceThreshold: z.number().int().describe('Minor units: 1000 is 10.00'),
  notificationEmail: z
    .string()
    .nullable()
    .describe('Where notification mail goes instead of the account e-mail'),
  typePreferences: z.record(z.enum(notificationTypes), channelPreference),
  updatedAt: z.date().nullable(),
});
const settingsDto = (s: NotificationSettings): z.infer<typeof settingsSchema> => ({
  lowBalanceThreshold: s.lowBalanceThreshold,
  notificationEmail: s.notificationEmail,
  typePreferences: s.typePreferences,
  updatedAt: s.updatedAt,
});

/** A path of the app or an http(s) URL: never javascript: or data: in a link people click. */
const actionUrl = z
  .string()
  .trim()
  .max(2000)
  .refine(
    (v) => /^\/(?!\/)/.test(v) || /^https?:\/\/[^\s]+$/i.test(v),
    'must be a path starting with / or an http(s) URL',
  );

export const notificationRoutes =
  (notifications: NotificationService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['notifications'];
    const idParams = z.object({ id: z.uuid() });

    app.get(
      '/v1/notifications',
      {
        schema: {
          tags,
          summary: 'My notifications, newest first',
          querystring: pageQuery.extend({
            unread: z.enum(['true', 'false']).optional().describe('true: only unread; false: only read'),
            type: z.enum(notificationTypes).optional(),
          }),
          response: { 200: pageSchema(notificationSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (req) => {
        const { unread, ...q } = req.query;
        const page = await notifications.list(req.actor, {
          ...q,
          unread: unread === undefined ? undefined : unread === 'true',
        });
        return { items: page.items.map(toDto), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/v1/notifications/unread-count',
      {
        schema: {
          tags,
          summary: 'How many of my notifications are unread',
          response: { 200: z.object({ count: z.number().int() }), ...errorResponses(401, 403) },
        },
      },
      async (req) => ({ count: await notifications.unreadCount(req.actor) }),
    );

    app.post(
      '/v1/notifications/read-all',
      {
        schema: {
          tags,
          summary: 'Mark all my notifications read',
          response: { 200: z.object({ updated: z.number().int() }), ...errorResponses(401, 403) },
        },
      },
      (req) => notifications.markAllRead(req.actor),
    );

    app.post(
      '/v1/notifications/:id/read',
      {
        schema: {
          tags,
          summary: 'Mark a notification read',
          description: 'Marking it again keeps the first read time.',
          params: idParams,
          response: { 200: notificationSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toDto(await notifications.markRead(req.actor, req.params.id)),
    );

    app.delete(
      '/v1/notifications/:id',
      {
        schema: {
          tags,
          summary: 'Delete a notification',
          params: idParams,
          response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req, reply) => {
        await notifications.remove(req.actor, req.params.id);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/notifications/settings',
      {
        schema: {
          tags,
          summary: 'My notification settings',
          description: 'Every type with its in-app and e-mail choice; defaults where I changed nothing.',
          response: { 200: settingsSchema, ...errorResponses(401, 403) },
        },
      },
      async (req) => settingsDto(await notifications.mySettings(req.actor)),
    );

    app.patch(
      '/v1/notifications/settings',
      {
        schema: {
          tags,
          summary: 'Change my notification settings',
          description:
            'Only the fields sent change; in `typePreferences` only the types and channels sent. `system` and `security` cannot be turned off. `notificationEmail: null` sends mail to the account e-mail again.',
          body: z
            .object({
              lowBalanceThreshold: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
              notificationEmail: z.email().max(255).nullable().optional(),
              typePreferences: z
                .partialRecord(
                  z.enum(notificationTypes),
                  z.object({ inApp: z.boolean().optional(), email: z.boolean().optional() }).strict(),
                )
                .optional(),
            })
            .strict(),
          response: { 200: settingsSchema, ...errorResponses(400, 401, 403) },
        },
      },
      async (req) => settingsDto(await notifications.updateSettings(req.actor, req.body)),
    );

    app.post(
      '/v1/admin/notifications',
      {
        schema: {
          tags: ['operator'],
          summary: 'Send a notification to a user (operators)',
          description:
            '`system` always arrives in the app and by mail; `promotional` follows the user’s preferences (mail off by default).',
          body: z
            .object({
              userId: z.uuid(),
              type: z.enum(['system', 'promotional']),
              title: z.string().trim().min(1).max(500),
              message: z.string().trim().min(1).max(5000),
              actionUrl: actionUrl.optional(),
              actionLabel: z.string().trim().min(1).max(100).optional(),
              email: z
                .object({ subject: z.string().trim().min(1).max(500), text: z.string().min(1).max(50_000) })
                .strict()
                .optional(),
            })
            .strict(),
          response: {
            201: z.object({
              notification: notificationSchema.nullable(),
              email: z.object({ emailLogId: z.uuid(), to: z.string() }).nullable(),
            }),
            ...errorResponses(400, 401, 403, 404),
          },
        },
      },
      async (req, reply) => {
        const result = await notifications.send(req.actor, req.body);
        return reply.status(201).send({
          notification: result.notification ? toDto(result.notification) : null,
          email: result.email,
        });
      },
    );
  };
