import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { MailService } from './mail.service.ts';

const mailboxMessage = z.object({
  id: z.uuid(),
  emailLogId: z.uuid(),
  fromAddress: z.string(),
  toAddress: z.string(),
  subject: z.string(),
  text: z.string(),
  html: z.string().nullable(),
  createdAt: z.date(),
});

const emailLog = z.object({
  id: z.uuid(),
  recipientEmail: z.string(),
  userId: z.uuid().nullable(),
  emailType: z.string(),
  subject: z.string(),
  status: z.string(),
  provider: z.string().nullable(),
  providerMessageId: z.string().nullable(),
  errorMessage: z.string().nullable(),
  sentAt: z.date().nullable(),
  deliveredAt: z.date().nullable(),
  createdAt: z.date(),
});

export const mailRoutes = (mail: MailService): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/admin/mailbox',
      {
        schema: {
          tags: ['operator'],
          summary: 'Read the local mailbox (operators)',
          description: 'Mail sent through the local provider, newest first. Filter by recipient with `to`.',
          querystring: pageQuery.extend({ to: z.email().optional() }),
          response: { 200: pageSchema(mailboxMessage), ...errorResponses(400, 401, 403) },
        },
      },
      (req) => mail.listMailbox(req.actor, req.query),
    );
    app.get(
      '/v1/admin/email-logs',
      {
        schema: {
          tags: ['operator'],
          summary: 'List the e-mail log (operators)',
          querystring: pageQuery.extend({ userId: z.uuid().optional() }),
          response: { 200: pageSchema(emailLog), ...errorResponses(400, 401, 403) },
        },
      },
      (req) => mail.listLogs(req.actor, req.query),
    );
  };
