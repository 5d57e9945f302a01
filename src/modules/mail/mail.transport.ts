import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface SentMail {
  provider: string;
  providerMessageId: string;
}

/** Where mail goes: the local mailbox by default, an SMTP server when configured. */
export interface MailTransport {
  readonly provider: string;
  send(message: MailMessage & { emailLogId: string }): Promise<SentMail>;
}

export class SmtpTransport implements MailTransport {
  readonly provider = 'smtp';
  private readonly transporter: nodemailer.Transporter<SMTPTransport.SentMessageInfo>;

  constructor(url: string) {
    this.transporter = nodemailer.createTransport(url);
  }

  async send(message: MailMessage): Promise<SentMail> {
    const info: SMTPTransport.SentMessageInfo = await this.transporter.sendMail({
      from: message.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      ...(message.html ? { html: message.html } : {}),
    });
    return { provider: this.provider, providerMessageId: String(info.messageId) };
  }
}
