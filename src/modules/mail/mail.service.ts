import type { Db, Executor } from '../../db/client.ts';
import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import { publish } from '../../core/outbox.ts';
import type { Logger } from '../../core/logger.ts';
import type { EmailLog, MailboxMessage, MailRepository } from './mail.repository.ts';
import type { MailMessage, MailTransport, SentMail } from './mail.transport.ts';

export interface OutgoingMail {
  to: string;
  userId?: string | null;
  type: string;
  subject: string;
  text: string;
  html?: string;
}

/** The local provider: mail lands in the mailbox table, readable by operators through the API. */
export class LocalMailboxTransport implements MailTransport {
  readonly provider = 'local';
  constructor(private readonly repo: MailRepository) {}
  async send(message: MailMessage & { emailLogId: string }): Promise<SentMail> {
    const row = await this.repo.insertMailbox({
      emailLogId: message.emailLogId,
      fromAddress: message.from,
      toAddress: message.to.toLowerCase(),
      subject: message.subject,
      text: message.text,
      html: message.html ?? null,
    });
    return { provider: this.provider, providerMessageId: row.id };
  }
}

export function createMailService(deps: {
  db: Db;
  repo: MailRepository;
  transport: MailTransport;
  access: Access;
  from: string;
  log: Logger;
}) {
  const { db, repo, transport, access, from, log } = deps;
  return {
    /**
     * Queues a mail: the log row and the event that will send it are written in the caller's
     * transaction (or a new one), so a mail is sent if and only if the change that asked for it
     * committed.
     */
    async queue(mail: OutgoingMail, tx?: Executor): Promise<EmailLog> {
      const run = async (t: Executor) => {
        const logRow = await repo.createLog(
          { recipientEmail: mail.to.toLowerCase(), userId: mail.userId ?? null, emailType: mail.type, subject: mail.subject },
          t,
        );
        await publish(t, 'mail.requested', {
          emailLogId: logRow.id,
          from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          ...(mail.html ? { html: mail.html } : {}),
        });
        return logRow;
      };
      return tx ? run(tx) : db.transaction(run);
    },

    /** The mail.send job. Idempotent: a log already sent is not sent again. */
    async deliver(message: MailMessage & { emailLogId: string }): Promise<void> {
      const logRow = await repo.getLog(message.emailLogId);
      if (!logRow || logRow.status === 'sent' || logRow.status === 'delivered') return;
      try {
        const sent = await transport.send(message);
        await repo.markSent(logRow.id, sent.provider, sent.providerMessageId);
      } catch (err) {
        log.warn({ err, emailLogId: logRow.id }, 'mail delivery failed');
        await repo.markFailed(logRow.id, transport.provider, err instanceof Error ? err.message : String(err));
        throw err;
      }
    },

    async listMailbox(actor: Actor, q: PageQuery & { to?: string | undefined }): Promise<Page<MailboxMessage>> {
      access.requirePlatformAdmin(actor);
      const rows = await repo.listMailbox({ to: q.to, before: decodeCursor(q.cursor), limit: q.limit });
      return toPage(rows, q.limit);
    },

    async listLogs(actor: Actor, q: PageQuery & { userId?: string | undefined }): Promise<Page<EmailLog>> {
      access.requirePlatformAdmin(actor);
      const rows = await repo.listLogs({ userId: q.userId, before: decodeCursor(q.cursor), limit: q.limit });
      return toPage(rows, q.limit);
    },
  };
}
export type MailService = ReturnType<typeof createMailService>;
