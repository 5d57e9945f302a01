import { and, count, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import { users } from '../identity/identity.schema.ts';
import { notifications, notificationSettings, type NotificationType } from './notifications.schema.ts';

export type Notification = typeof notifications.$inferSelect;
export type NotificationSettingsRow = typeof notificationSettings.$inferSelect;

/** What notify needs about a recipient, in one round trip. */
export interface Recipient {
  userId: string;
  email: string;
  status: string;
  settings: NotificationSettingsRow | null;
}

export function createNotificationRepository(db: Db) {
  // The unread badge is polled by every open page: prepared, answered from the partial index.
  const unreadStmt = db
    .select({ n: count() })
    .from(notifications)
    .where(and(eq(notifications.userId, sql.placeholder('userId')), eq(notifications.isRead, false)))
    .prepare('notifications_unread_count');

  // The money module reads it on every debit that may cross the threshold.
  const thresholdStmt = db
    .select({ threshold: notificationSettings.lowBalanceThreshold })
    .from(notificationSettings)
    .where(eq(notificationSettings.userId, sql.placeholder('userId')))
    .prepare('notification_low_balance_threshold');

  return {
    async getRecipient(userId: string, tx: Executor = db): Promise<Recipient | undefined> {
      const [row] = await tx
        .select({
          userId: users.id,
          email: users.email,
          status: users.status,
          settings: notificationSettings,
        })
        .from(users)
        .leftJoin(notificationSettings, eq(notificationSettings.userId, users.id))
        .where(eq(users.id, userId));
      return row;
    },

    async insert(row: typeof notifications.$inferInsert, tx: Executor = db): Promise<Notification> {
      const [created] = await tx.insert(notifications).values(row).returning();
      return created!;
    },

    async list(
      userId: string,
      filter: {
        unread?: boolean | undefined;
        type?: NotificationType | undefined;
        before?: string | undefined;
        limit: number;
      },
    ): Promise<Notification[]> {
      return db
        .select()
        .from(notifications)
        .where(
          and(
            eq(notifications.userId, userId),
            filter.unread === undefined ? undefined : eq(notifications.isRead, !filter.unread),
            filter.type ? eq(notifications.type, filter.type) : undefined,
            filter.before ? lt(notifications.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(notifications.id))
        .limit(filter.limit + 1);
    },

    async unreadCount(userId: string): Promise<number> {
      const [row] = await unreadStmt.execute({ userId });
      return Number(row?.n ?? 0);
    },

    /** Marks one of the user's notifications read; a second call keeps the first read_at. */
    async markRead(userId: string, id: string): Promise<Notification | undefined> {
      const [row] = await db
        .update(notifications)
        .set({ isRead: true, readAt: sql`coalesce(${notifications.readAt}, now())` })
        .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
        .returning();
      return row;
    },

    async markAllRead(userId: string): Promise<number> {
      const rows = await db
        .update(notifications)
        .set({ isRead: true, readAt: sql`now()` })
        .where(and(eq(notifications.userId, userId), eq(notifications.isRead, false)))
        .returning({ id: notifications.id });
      return rows.length;
    },

    async remove(userId: string, id: string): Promise<boolean> {
      const rows = await db
        .delete(notifications)
        .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
        .returning({ id: notifications.id });
      return rows.length > 0;
    },

    async getSettings(userId: string, tx: Executor = db): Promise<NotificationSettingsRow | undefined> {
      const [row] = await tx
        .select()
        .from(notificationSettings)
        .where(eq(notificationSettings.userId, userId));
      return row;
    },

    async getSettingsForUpdate(userId: string, tx: Executor): Promise<NotificationSettingsRow | undefined> {
      const [row] = await tx
        .select()
        .from(notificationSettings)
        .where(eq(notificationSettings.userId, userId))
        .for('update');
      return row;
    },

    async lowBalanceThreshold(userId: string, tx?: Executor): Promise<number | undefined> {
      if (!tx) {
        const [row] = await thresholdStmt.execute({ userId });
        return row?.threshold;
      }
      const [row] = await tx
        .select({ threshold: notificationSettings.lowBalanceThreshold })
        .from(notificationSettings)
        .where(eq(notificationSettings.userId, userId));
      return row?.threshold;
    },

    async upsertSettings(
      row: Pick<
        typeof notificationSettings.$inferInsert,
        'userId' | 'lowBalanceThreshold' | 'notificationEmail' | 'typePreferences'
      >,
      tx: Executor,
    ): Promise<NotificationSettingsRow> {
      const [saved] = await tx
        .insert(notificationSettings)
        .values(row)
        .onConflictDoUpdate({
          target: notificationSettings.userId,
          set: {
            lowBalanceThreshold: row.lowBalanceThreshold,
            notificationEmail: row.notificationEmail,
            typePreferences: row.typePreferences,
          },
        })
        .returning();
      return saved!;
    },
  };
}
export type NotificationRepository = ReturnType<typeof createNotificationRepository>;
