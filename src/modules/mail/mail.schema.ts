import { check, index, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';

export const emailStatuses = ['pending', 'sent', 'delivered', 'bounced', 'failed'] as const;

/** Every mail Fanfare sends, whatever the provider (seed: creator-platform email_logs). */
export const emailLogs = pgTable(
  'email_logs',
  {
    id: id(),
    recipientEmail: varchar({ length: 255 }).notNull(),
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    emailType: varchar({ length: 100 }).notNull(),
    subject: varchar({ length: 500 }).notNull(),
    status: varchar({ length: 50 }).notNull().default('pending'),
    provider: varchar({ length: 50 }),
    providerMessageId: varchar({ length: 255 }),
    errorMessage: text(),
    sentAt: tz(),
    deliveredAt: tz(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    index('idx_email_logs_user').on(t.userId),
    index('idx_email_logs_recipient').on(t.recipientEmail),
    check('email_logs_status_check', oneOf(t.status, emailStatuses)),
  ],
);

/**
 * The local mail provider's mailbox: what would have been delivered, readable by an operator
 * through the API. Mail bodies hold one-time links, so only operators may read them.
 */
export const mailboxMessages = pgTable(
  'mailbox_messages',
  {
    id: id(),
    emailLogId: uuid()
      .notNull()
      .references(() => emailLogs.id, { onDelete: 'cascade' }),
    fromAddress: varchar({ length: 255 }).notNull(),
    toAddress: varchar({ length: 255 }).notNull(),
    subject: varchar({ length: 500 }).notNull(),
    text: text().notNull(),
    html: text(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [index('idx_mailbox_to').on(t.toAddress)],
);
