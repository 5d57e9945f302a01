export { createMailRepository } from './mail.repository.ts';
export { createMailService, LocalMailboxTransport, type MailService, type OutgoingMail } from './mail.service.ts';
export { SmtpTransport, type MailTransport, type MailMessage } from './mail.transport.ts';
export { registerMailEvents } from './mail.events.ts';
export { mailRoutes } from './mail.routes.ts';
