import type { JobQueue } from '../../core/jobs.ts';
import type { Outbox } from '../../core/outbox.ts';
import type { MailService } from './mail.service.ts';

export function registerMailEvents(outbox: Outbox, jobs: JobQueue, mail: MailService): void {
  outbox.subscribe('mail.requested', 'mail.enqueue', async (event) => {
    await jobs.send('mail.send', event.payload, { key: event.payload.emailLogId });
  });
  jobs.register('mail.send', (data) => mail.deliver(data));
}
