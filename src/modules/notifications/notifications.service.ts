import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, notFound, type FieldProblem } from '../../core/errors.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import type { MailService } from '../mail/index.ts';
import type {
  Notification,
  NotificationRepository,
  NotificationSettingsRow,
} from './notifications.repository.ts';
import {
  DEFAULT_LOW_BALANCE_THRESHOLD,
  mandatoryTypes,
  notificationTypes,
  typeDefaults,
  type ChannelPreference,
  type NotificationType,
  type TypePreferences,
} from './notifications.schema.ts';

export interface NotifyInput {
  userId: string;
  type: NotificationType;
  title: string;
  message: string;
  /** A path of the app (`/media/…`) or an absolute http(s) URL. */
  actionUrl?: string | null | undefined;
  actionLabel?: string | null | undefined;
  actorId?: string | null | undefined;
  relatedId?: string | null | undefined;
  organizationId?: string | null | undefined;
  data?: Record<string, unknown> | undefined;
  /**
   * The mail, when the user's preferences allow one. Without it the mail is made from the title,
   * message and action; `false` sends no mail whatever the preferences.
   */
  email?: { subject: string; text: string; html?: string; type?: string } | false | undefined;
}

export interface NotifyResult {
  /** The in-app row, or null when the user turned in-app off for this type. */
  notification: Notification | null;
  /** The queued mail, or null when none was asked for or allowed. */
  email: { emailLogId: string; to: string } | null;
}

export interface NotificationSettings {
  userId: string;
  lowBalanceThreshold: number;
  notificationEmail: string | null;
  /** Every type, with the user's choices over the defaults. */
  typePreferences: Record<NotificationType, ChannelPreference>;
  updatedAt: Date | null;
}

export interface SettingsPatch {
  lowBalanceThreshold?: number | undefined;
  notificationEmail?: string | null | undefined;
  typePreferences?: Partial<Record<NotificationType, Partial<ChannelPreference>>> | undefined;
}

const isMandatory = (type: NotificationType) => mandatoryTypes.includes(type);

/** The effective preference of every type: defaults, the user's choices, mandatory types forced on. */
export function effectivePreferences(
  stored: TypePreferences | null | undefined,
): Record<NotificationType, ChannelPreference> {
  const out = {} as Record<NotificationType, ChannelPreference>;
  for (const type of notificationTypes) {
    out[type] = isMandatory(type)
      ? { inApp: true, email: true }
      : { ...typeDefaults[type], ...(stored?.[type] ?? {}) };
  }
  return out;
}

function toSettings(userId: string, row: NotificationSettingsRow | null | undefined): NotificationSettings {
  return {
    userId,
    lowBalanceThreshold: row?.lowBalanceThreshold ?? DEFAULT_LOW_BALANCE_THRESHOLD,
    notificationEmail: row?.notificationEmail ?? null,
    typePreferences: effectivePreferences(row?.typePreferences),
    updatedAt: row?.updatedAt ?? null,
  };
}

export function createNotificationService(deps: {
  db: Db;
  repo: NotificationRepository;
  mail: MailService;
  access: Access;
  audit?: AuditService;
  /** Makes relative action URLs absolute in mail. */
  publicUrl?: string;
}) {
  const { db, repo, mail, access, audit, publicUrl = '' } = deps;

  const absolute = (url: string) => (url.startsWith('/') ? `${publicUrl}${url}` : url);

  function mailText(input: NotifyInput): string {
    const lines = [input.message];
    if (input.actionUrl) lines.push('', `${input.actionLabel ?? 'Open'}: ${absolute(input.actionUrl)}`);
    if (!isMandatory(input.type)) {
      lines.push(
        '',
        '--',
        `You receive this mail because ${input.type} notifications are on in your settings: ${publicUrl}/v1/notifications/settings`,
      );
    }
    return lines.join('\n');
  }

  async function notifyIn(t: Executor, input: NotifyInput): Promise<NotifyResult> {
    const recipient = await repo.getRecipient(input.userId, t);
    if (!recipient) throw notFound('User');
    // A deleted account has nobody to read it; its e-mail address must not get mail either.
    if (recipient.status === 'deleted') return { notification: null, email: null };

    const pref = effectivePreferences(recipient.settings?.typePreferences)[input.type];
    const notification = pref.inApp
      ? await repo.insert(
          {
            userId: input.userId,
            type: input.type,
            title: input.title,
            message: input.message,
            actionUrl: input.actionUrl ?? null,
            actionLabel: input.actionLabel ?? null,
            actorId: input.actorId ?? null,
            relatedId: input.relatedId ?? null,
            organizationId: input.organizationId ?? null,
            data: input.data ?? {},
          },
          t,
        )
      : null;

    let email: NotifyResult['email'] = null;
    if (pref.email && input.email !== false) {
      const to = recipient.settings?.notificationEmail ?? recipient.email;
      const log = await mail.queue(
        {
          to,
          userId: input.userId,
          type: input.email?.type ?? `notification_${input.type}`,
          subject: input.email?.subject ?? input.title,
          text: input.email?.text ?? mailText(input),
          ...(input.email?.html ? { html: input.email.html } : {}),
        },
        t,
      );
      email = { emailLogId: log.id, to: log.recipientEmail };
    }
    return { notification, email };
  }

  return {
    /**
     * The one way to notify a user: the in-app row and the mail (through the mail module's
     * outbox) are written in the caller's transaction when given, so they exist if and only if
     * the change they announce committed. Preferences decide each channel.
     */
    async notify(input: NotifyInput, tx?: Executor): Promise<NotifyResult> {
      return tx ? notifyIn(tx, input) : db.transaction((t) => notifyIn(t, input));
    },

    /** A user's settings, the defaults when they never changed any. */
    async getSettings(userId: string, tx?: Executor): Promise<NotificationSettings> {
      return toSettings(userId, await repo.getSettings(userId, tx));
    },

    /** Minor units below which the money module warns the user; one indexed read. */
    async lowBalanceThreshold(userId: string, tx?: Executor): Promise<number> {
      return (await repo.lowBalanceThreshold(userId, tx)) ?? DEFAULT_LOW_BALANCE_THRESHOLD;
    },

    async list(
      actor: Actor,
      q: PageQuery & { unread?: boolean | undefined; type?: NotificationType | undefined },
    ): Promise<Page<Notification>> {
      const user = access.requireUser(actor);
      const rows = await repo.list(user.userId, {
        unread: q.unread,
        type: q.type,
        before: decodeCursor(q.cursor),
        limit: q.limit,
      });
      return toPage(rows, q.limit);
    },

    async unreadCount(actor: Actor): Promise<number> {
      const user = access.requireUser(actor);
      return repo.unreadCount(user.userId);
    },

    /** Another user's notification answers 404, like one that does not exist. */
    async markRead(actor: Actor, id: string): Promise<Notification> {
      const user = access.requireUser(actor);
      const row = await repo.markRead(user.userId, id);
      if (!row) throw notFound('Notification');
      return row;
    },

    async markAllRead(actor: Actor): Promise<{ updated: number }> {
      const user = access.requireUser(actor);
      return { updated: await repo.markAllRead(user.userId) };
    },

    async remove(actor: Actor, id: string): Promise<void> {
      const user = access.requireUser(actor);
      if (!(await repo.remove(user.userId, id))) throw notFound('Notification');
    },

    async mySettings(actor: Actor): Promise<NotificationSettings> {
      const user = access.requireUser(actor);
      return toSettings(user.userId, await repo.getSettings(user.userId));
    },

    async updateSettings(actor: Actor, patch: SettingsPatch): Promise<NotificationSettings> {
      const user = access.requireUser(actor);
      const problems: FieldProblem[] = [];
      for (const [type, pref] of Object.entries(patch.typePreferences ?? {}) as [
        NotificationType,
        Partial<ChannelPreference>,
      ][]) {
        if (!isMandatory(type)) continue;
        for (const channel of ['inApp', 'email'] as const) {
          if (pref[channel] === false) {
            problems.push({
              path: `body.typePreferences.${type}.${channel}`,
              message: `${type} notifications cannot be turned off`,
            });
          }
        }
      }
      if (problems.length) {
        throw new AppError('bad_request', problems.map((p) => p.message).join('; '), { fields: problems });
      }
      if (
        patch.lowBalanceThreshold !== undefined &&
        (!Number.isSafeInteger(patch.lowBalanceThreshold) || patch.lowBalanceThreshold < 0)
      ) {
        throw new AppError(
          'bad_request',
          'lowBalanceThreshold must be a whole number of minor units, 0 or more',
          {
            fields: [{ path: 'body.lowBalanceThreshold', message: 'not a non-negative integer' }],
          },
        );
      }

      const saved = await db.transaction(async (tx) => {
        const current = await repo.getSettingsForUpdate(user.userId, tx);
        // Only what differs from the defaults is kept, so a changed default reaches everyone else.
        const stored: TypePreferences = { ...(current?.typePreferences ?? {}) };
        for (const [type, pref] of Object.entries(patch.typePreferences ?? {}) as [
          NotificationType,
          Partial<ChannelPreference>,
        ][]) {
          if (isMandatory(type)) continue;
          const next = { ...typeDefaults[type], ...(stored[type] ?? {}), ...pref };
          const isDefault =
            next.inApp === typeDefaults[type].inApp && next.email === typeDefaults[type].email;
          if (isDefault) {
            delete stored[type];
          } else {
            stored[type] = { inApp: next.inApp, email: next.email };
          }
        }
        return repo.upsertSettings(
          {
            userId: user.userId,
            lowBalanceThreshold:
              patch.lowBalanceThreshold ?? current?.lowBalanceThreshold ?? DEFAULT_LOW_BALANCE_THRESHOLD,
            notificationEmail:
              patch.notificationEmail === undefined
                ? (current?.notificationEmail ?? null)
                : (patch.notificationEmail?.toLowerCase() ?? null),
            typePreferences: stored,
          },
          tx,
        );
      });
      return toSettings(user.userId, saved);
    },

    /** An operator's message to one user: `system` always arrives, `promotional` follows preferences. */
    async send(
      actor: Actor,
      input: Pick<NotifyInput, 'userId' | 'title' | 'message' | 'actionUrl' | 'actionLabel'> & {
        type: Extract<NotificationType, 'system' | 'promotional'>;
        email?: { subject: string; text: string } | undefined;
      },
    ): Promise<NotifyResult> {
      const admin = access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const recipient = await repo.getRecipient(input.userId, tx);
        if (!recipient || recipient.status === 'deleted') throw notFound('User');
        const result = await notifyIn(tx, { ...input, actorId: admin.userId });
        await audit?.record(
          {
            action: 'notification.sent',
            userId: admin.userId,
            resourceType: 'notification',
            resourceId: result.notification?.id ?? null,
            meta: admin.meta,
            metadata: {
              recipientId: input.userId,
              type: input.type,
              title: input.title,
              emailed: result.email !== null,
            },
          },
          tx,
        );
        return result;
      });
    },
  };
}
export type NotificationService = ReturnType<typeof createNotificationService>;
