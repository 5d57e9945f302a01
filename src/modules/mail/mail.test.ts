import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers.ts';
import { createLogger } from '../../core/logger.ts';
import { createMailRepository } from './mail.repository.ts';
import { createMailService } from './mail.service.ts';
import { SmtpTransport, type MailTransport } from './mail.transport.ts';

interface Received {
  from: string | undefined;
  to: string[];
  data: string;
}

/** A real SMTP server on a random local port that keeps what it is sent. */
async function startSmtpServer() {
  const received: Received[] = [];
  let rejectRecipient: string | undefined;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address === rejectRecipient) return callback(new Error('550 No such mailbox here'));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    rejectRecipientOnce(address: string | undefined) {
      rejectRecipient = address;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let ctx: TestContext;
beforeAll(async () => {
  smtp = await startSmtpServer();
  ctx = await createTestContext({ MAIL_DRIVER: 'smtp', SMTP_URL: smtp.url, MAIL_FROM: 'Fanfare Test <noreply@fanfare.test>' });
});
afterAll(async () => {
  await ctx?.close();
  await smtp?.close();
});

async function emailLog(id: string) {
  const { rows } = await ctx.database.raw.query<{
    status: string;
    provider: string | null;
    provider_message_id: string | null;
    error_message: string | null;
    sent_at: Date | null;
  }>('select status, provider, provider_message_id, error_message, sent_at from email_logs where id = $1', [id]);
  return rows[0];
}

const receivedBy = (address: string) => smtp.received.filter((m) => m.to.some((to) => to.toLowerCase() === address.toLowerCase()));

describe('SmtpTransport', () => {
  it('delivers to a real SMTP server', async () => {
    const transport = new SmtpTransport(smtp.url);
    const sent = await transport.send({
      from: 'Fanfare <noreply@fanfare.test>',
      to: 'direct@example.com',
      subject: 'Hello over SMTP',
      text: 'Plain body',
      html: '<p>HTML body</p>',
    });
    expect(sent.provider).toBe('smtp');
    expect(sent.providerMessageId).toMatch(/^<.+@.+>$/);
    const [mail] = receivedBy('direct@example.com');
    expect(mail).toBeDefined();
    expect(mail!.from).toBe('noreply@fanfare.test');
    expect(mail!.data).toContain('Subject: Hello over SMTP');
    expect(mail!.data).toContain('To: direct@example.com');
    expect(mail!.data).toContain('Plain body');
    expect(mail!.data).toContain('<p>HTML body</p>');
    expect(mail!.data).toContain(`Message-ID: ${sent.providerMessageId}`);
  });

  it('rejects when the server refuses the recipient', async () => {
    smtp.rejectRecipientOnce('refused@example.com');
    const transport = new SmtpTransport(smtp.url);
    await expect(
      transport.send({ from: 'noreply@fanfare.test', to: 'refused@example.com', subject: 'x', text: 'x' }),
    ).rejects.toThrow(/No such mailbox/);
    smtp.rejectRecipientOnce(undefined);
    expect(receivedBy('refused@example.com')).toHaveLength(0);
  });
});

describe('mail delivery through the queue', () => {
  it('sends a queued mail over SMTP once the outbox and job run, and logs it', async () => {
    const log = await ctx.services.mail.queue({ to: 'Queued@Example.com', type: 'test', subject: 'Queued subject', text: 'Queued body' });
    expect(log.status).toBe('pending');
    expect(log.recipientEmail).toBe('queued@example.com');
    expect(receivedBy('Queued@Example.com')).toHaveLength(0);

    await ctx.drain();
    const [mail] = receivedBy('Queued@Example.com');
    expect(mail).toBeDefined();
    expect(mail!.to).toHaveLength(1);
    expect(mail!.from).toBe('noreply@fanfare.test');
    expect(mail!.data).toContain('Subject: Queued subject');
    const row = await emailLog(log.id);
    expect(row).toMatchObject({ status: 'sent', provider: 'smtp', error_message: null });
    expect(row!.sent_at).toBeInstanceOf(Date);
    expect(mail!.data).toContain(`Message-ID: ${row!.provider_message_id}`);
  });

  it('mails the sign-up verification over SMTP', async () => {
    const res = await ctx.req({ method: 'POST', url: '/v1/auth/sign-up', payload: { email: 'smtp-user@example.com', password: 'correct-horse-battery', name: 'S' } });
    expect(res.statusCode).toBe(201);
    await ctx.drain();
    const mails = receivedBy('smtp-user@example.com');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.data).toContain('Subject: Confirm your e-mail address');
    expect(mails[0]!.data).toContain('verify-email?token=');
  });

  it('does not send a mail again for a log already sent (idempotent deliver)', async () => {
    const log = await ctx.services.mail.queue({ to: 'once@example.com', type: 'test', subject: 'Only once', text: 'x' });
    await ctx.drain();
    expect(receivedBy('once@example.com')).toHaveLength(1);
    const sent = await emailLog(log.id);

    const message = { emailLogId: log.id, from: 'noreply@fanfare.test', to: 'once@example.com', subject: 'Only once', text: 'x' };
    // The job runs a second time (a retry after a crash), through the queue and directly.
    await ctx.services.jobs.send('mail.send', message, { key: `${log.id}-again` });
    await ctx.drain();
    await ctx.services.mail.deliver(message);
    expect(receivedBy('once@example.com')).toHaveLength(1);
    expect(await emailLog(log.id)).toEqual(sent);
  });

  it('ignores a job whose log no longer exists', async () => {
    await ctx.services.mail.deliver({ emailLogId: '0190a0a0-0000-7000-8000-000000000000', from: 'a@x.test', to: 'nolog@example.com', subject: 's', text: 't' });
    expect(receivedBy('nolog@example.com')).toHaveLength(0);
  });

  it('marks the log failed with the error when the transport fails, and sends on a later retry', async () => {
    const port = await closedPort();
    const failing = new SmtpTransport(`smtp://127.0.0.1:${port}`);
    const { db } = ctx.services;
    const repo = createMailRepository(db);
    const deps = { db, repo, access: ctx.services.access, from: 'noreply@fanfare.test', log: createLogger('silent') };
    const broken = createMailService({ ...deps, transport: failing });

    // The log row alone, without the outbox event, so only this test delivers it.
    const log = await repo.createLog({ recipientEmail: 'failing@example.com', emailType: 'test', subject: 'Will fail' });
    const message = { emailLogId: log.id, from: 'noreply@fanfare.test', to: 'failing@example.com', subject: 'Will fail', text: 'x' };
    await expect(broken.deliver(message)).rejects.toThrow(/ECONNREFUSED/);
    const failed = await emailLog(log.id);
    expect(failed).toMatchObject({ status: 'failed', provider: 'smtp', sent_at: null });
    expect(failed!.error_message).toMatch(/ECONNREFUSED/);

    // A failed log is not final: the next attempt through a working transport sends it.
    const working = createMailService({ ...deps, transport: new SmtpTransport(smtp.url) });
    await working.deliver(message);
    expect(receivedBy('failing@example.com')).toHaveLength(1);
    expect(await emailLog(log.id)).toMatchObject({ status: 'sent', error_message: null });
  });

  it('keeps the error of any transport that throws', async () => {
    const { db } = ctx.services;
    const exploding: MailTransport = {
      provider: 'exploding',
      send: async () => {
        throw new Error('quota exceeded for today');
      },
    };
    const service = createMailService({
      db,
      repo: createMailRepository(db),
      transport: exploding,
      access: ctx.services.access,
      from: 'noreply@fanfare.test',
      log: createLogger('silent'),
    });
    const log = await createMailRepository(db).createLog({ recipientEmail: 'quota@example.com', emailType: 'test', subject: 's' });
    await expect(service.deliver({ emailLogId: log.id, from: 'a@x.test', to: 'quota@example.com', subject: 's', text: 't' })).rejects.toThrow(
      'quota exceeded',
    );
    expect(await emailLog(log.id)).toMatchObject({ status: 'failed', provider: 'exploding', error_message: 'quota exceeded for today' });
  });

  it('writes nothing when the transaction that queued the mail rolls back', async () => {
    await expect(
      ctx.services.db.transaction(async (tx) => {
        await ctx.services.mail.queue({ to: 'rolled-back@example.com', type: 'test', subject: 's', text: 't' }, tx);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await ctx.drain();
    expect(receivedBy('rolled-back@example.com')).toHaveLength(0);
    const { rows } = await ctx.database.raw.query("select id from email_logs where recipient_email = 'rolled-back@example.com'");
    expect(rows).toHaveLength(0);
  });
});
