import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  jsonb,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';

/**
 * The closed set of notification types: the union of the four seeds' types plus the ones the
 * platform's own modules send. Adding a type means a migration (the CHECK below) and a default
 * in `typeDefaults`.
 */
export const notificationTypes = [
  // Pay as Play
  'low_balance',
  'auto_topup',
  'payment',
  'session_end',
  'settlement',
  'system',
  'promotional',
  // creator platform
  'new_content',
  'booking_reminder',
  'credit_expiring',
  // Producers Avenue
  'like',
  'comment',
  'follow',
  'message',
  'order',
  'payout',
  'mention',
  'review',
  'approval',
  // repurposing studio
  'content_ready',
  'approval_needed',
  'payment_failed',
  // the platform's own modules (media, billing, organizations, identity)
  'purchase',
  'refund',
  'subscription',
  'transcoding_ready',
  'transcoding_failed',
  'invitation',
  'security',
] as const;
export type NotificationType = (typeof notificationTypes)[number];

export interface ChannelPreference {
  inApp: boolean;
  email: boolean;
}
export type TypePreferences = Partial<Record<NotificationType, ChannelPreference>>;

/** Types whose channels a user cannot turn off: they carry what an account holder must know. */
export const mandatoryTypes: readonly NotificationType[] = ['system', 'security'];

/** Types mailed unless the user says otherwise: money, orders, work finished, account events. */
const emailedByDefault = new Set<NotificationType>([
  'low_balance',
  'auto_topup',
  'payment',
  'payment_failed',
  'settlement',
  'payout',
  'purchase',
  'refund',
  'subscription',
  'order',
  'booking_reminder',
  'credit_expiring',
  'transcoding_ready',
  'transcoding_failed',
  'content_ready',
  'approval_needed',
  'approval',
  'invitation',
  'system',
  'security',
]);

/** Every type shows in the app by default; only the types above are also mailed. */
export const typeDefaults: Record<NotificationType, ChannelPreference> = Object.fromEntries(
  notificationTypes.map((t) => [t, { inApp: true, email: emailedByDefault.has(t) }]),
) as Record<NotificationType, ChannelPreference>;

/** 10.00 in minor units (seed: pay-as-play DECIMAL(10,2) DEFAULT 10.00). */
export const DEFAULT_LOW_BALANCE_THRESHOLD = 1000;

/**
 * In-app notifications of every product (union of the four seeds' `notifications`). `is_read`
 * and `read_at` are kept together: the CHECK makes one impossible without the other.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: varchar({ length: 50 }).notNull().$type<NotificationType>(),
    title: varchar({ length: 500 }).notNull(),
    message: text().notNull(),
    actionUrl: text(),
    actionLabel: varchar({ length: 100 }),
    /** The user whose action caused it (a follower, a buyer), when there is one. */
    actorId: uuid().references(() => users.id, { onDelete: 'set null' }),
    /** The thing it is about (order, media, payment...), polymorphic: no foreign key. */
    relatedId: uuid(),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'set null' }),
    data: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    isRead: boolean().notNull().default(false),
    readAt: tz(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    index('idx_notifications_user').on(t.userId, t.id.desc()),
    index('idx_notifications_unread')
      .on(t.userId, t.id.desc())
      .where(sql`is_read = false`),
    check('notifications_type_check', oneOf(t.type, notificationTypes)),
    check('notifications_read_consistent', sql`is_read = (read_at is not null)`),
  ],
);

/** Per-user notification settings (seed: pay-as-play notification_settings). */
export const notificationSettings = pgTable(
  'notification_settings',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Minor units of the wallet currency; the money module warns below it. */
    lowBalanceThreshold: bigint({ mode: 'number' }).notNull().default(DEFAULT_LOW_BALANCE_THRESHOLD),
    /** When set, notification mail goes here instead of the account e-mail. */
    notificationEmail: varchar({ length: 255 }),
    /** Only the types the user changed; the rest follow `typeDefaults`. */
    typePreferences: jsonb().$type<TypePreferences>().notNull().default({}),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('notification_settings_user_unique').on(t.userId),
    check('notification_settings_threshold_check', sql`low_balance_threshold >= 0`),
  ],
);
