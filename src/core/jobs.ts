import PgBoss from 'pg-boss';
import type { MailMessage } from '../modules/mail/mail.transport.ts';
import type { Database } from '../db/client.ts';
import { newId } from './ids.ts';
import type { Logger } from './logger.ts';

/**
 * The closed set of background jobs. Each name has exactly one handler, registered by the module
 * that owns it; every handler is idempotent (a job may run twice after a crash).
 */
export interface JobMap {
  'mail.send': MailMessage & { emailLogId: string };
  'maintenance.cleanup': Record<string, never>;
  'ledger.release-holds': Record<string, never>;
  'payments.sandbox-deliver': { eventId: string };
  'wallets.auto-topup': { walletId: string };
  'lms.sync': { connectionId: string };
  'payouts.send': { payoutId: string };
  'payplay.tick': Record<string, never>;
  'payplay.settlement': { day?: string };
  /** Probe and transcode one uploaded media item to HLS; `attempt` 2 is the one retry. */
  'media.transcode': { mediaId: string; attempt: number };
  'content.expire-checkouts': Record<string, never>;
  /** One attempt at sending one webhook delivery (each retry is a new job). */
  'webhooks.deliver': { deliveryId: string };
}
export type JobName = keyof JobMap;
export const jobNames: readonly JobName[] = ['mail.send', 'maintenance.cleanup', 'ledger.release-holds', 'payments.sandbox-deliver', 'wallets.auto-topup', 'lms.sync', 'payouts.send', 'payplay.tick', 'payplay.settlement', 'media.transcode', 'content.expire-checkouts', 'webhooks.deliver'];

export type JobHandler<N extends JobName> = (data: JobMap[N], meta: { id: string; retryCount: number }) => Promise<void>;

export interface SendOptions {
  /** Dedupe key: a second job with the same key while one is queued is dropped. */
  key?: string;
  startAfter?: Date | number;
  retryLimit?: number;
  /** How long a running job may take before pg-boss takes it back (default 15 minutes). */
  expireInSeconds?: number;
}

export class JobQueue {
  private readonly boss: PgBoss;
  private readonly handlers = new Map<JobName, JobHandler<JobName>>();
  private started = false;
  private working = false;

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    opts: { maintenance?: boolean } = {},
  ) {
    const maintenance = opts.maintenance ?? true;
    this.boss = new PgBoss({
      schema: 'pgboss',
      // One executor for both engines: pg-boss runs its SQL through ours, so on the embedded
      // engine it shares the single PGlite instance.
      db: { executeSql: (text, values) => database.raw.query(text, values) },
      supervise: maintenance,
      schedule: maintenance,
      migrate: true,
    });
    this.boss.on('error', (err) => this.log.error({ err }, 'job queue error'));
  }

  register<N extends JobName>(name: N, handler: JobHandler<N>): void {
    if (this.handlers.has(name)) throw new Error(`job ${name} already has a handler`);
    this.handlers.set(name, handler as unknown as JobHandler<JobName>);
  }

  /** Creates pg-boss's schema and our queues. Safe to call from several processes. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    for (const name of jobNames) {
      if (!(await this.boss.getQueue(name))) {
        // 'short': at most one queued job per key, which is what makes `key` a dedupe key.
        await this.boss.createQueue(name, { name, policy: 'short', retryLimit: 1, retryDelay: 5, retryBackoff: true });
      }
    }
    this.started = true;
  }

  async send<N extends JobName>(name: N, data: JobMap[N], opts: SendOptions = {}): Promise<string | null> {
    await this.start();
    return this.boss.send(name, data, {
      singletonKey: opts.key ?? newId(),
      ...(opts.startAfter ? { startAfter: opts.startAfter instanceof Date ? opts.startAfter : new Date(opts.startAfter) } : {}),
      ...(opts.retryLimit !== undefined ? { retryLimit: opts.retryLimit } : {}),
      ...(opts.expireInSeconds !== undefined ? { expireInSeconds: opts.expireInSeconds } : {}),
    });
  }

  /** Runs `name` on a cron schedule (UTC); pg-boss makes sure one process enqueues each tick. */
  async schedule<N extends JobName>(name: N, cron: string, data: JobMap[N]): Promise<void> {
    await this.start();
    await this.boss.schedule(name, cron, data, { tz: 'UTC' });
  }

  /** Starts polling every queue that has a handler (the worker). */
  async work(pollingIntervalSeconds = 1): Promise<void> {
    await this.start();
    this.working = true;
    for (const [name, handler] of this.handlers) {
      await this.boss.work(name, { pollingIntervalSeconds, batchSize: 5, includeMetadata: true }, async (jobs) => {
        // Each job of the batch succeeds or fails on its own: a throwing handler fails (and so
        // retries) only its job, and pg-boss then completes the rest of the batch.
        for (const job of jobs) {
          try {
            await handler(job.data as never, { id: job.id, retryCount: job.retryCount });
          } catch (err) {
            this.log.warn({ err, job: name, jobId: job.id }, 'job failed');
            await this.boss.fail(name, job.id, { message: err instanceof Error ? err.message : String(err) });
          }
        }
      });
    }
  }

  /**
   * Runs every job that is due now, in this process, until none is left. Tests and the CLI use it
   * to make background work deterministic.
   */
  async drain(maxRounds = 20): Promise<number> {
    await this.start();
    let ran = 0;
    for (let round = 0; round < maxRounds; round++) {
      let found = 0;
      for (const [name, handler] of this.handlers) {
        const jobs = await this.boss.fetch(name, { batchSize: 20, includeMetadata: true });
        for (const job of jobs ?? []) {
          found++;
          try {
            await handler(job.data as never, { id: job.id, retryCount: job.retryCount });
            await this.boss.complete(name, job.id);
          } catch (err) {
            this.log.warn({ err, job: name }, 'job failed');
            await this.boss.fail(name, job.id, { message: err instanceof Error ? err.message : String(err) });
          }
        }
      }
      ran += found;
      if (!found) break;
    }
    return ran;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    await this.boss.stop({ graceful: this.working, wait: true, timeout: 5000, close: false });
    this.started = false;
  }
}
