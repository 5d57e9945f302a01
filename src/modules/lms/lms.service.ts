import type { Access } from '../../core/access.ts';
import type { Actor, UserActor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { AuditService } from '../audit/index.ts';
import { LmsError, type LmsClient, type LmsErrorCode, type LmsSite } from './lms.client.ts';
import type { SecretBox } from '../../core/secret-box.ts';

/** The HKDF purpose of the key that seals LMS connection keys (see core/secret-box.ts). */
export const LMS_SECRET_PURPOSE = 'lms-connections/v1';
import type { LmsConnectionPatch, LmsConnectionRow, LmsRepository } from './lms.repository.ts';
import type { LmsPlatform } from './lms.schema.ts';

/** A connection as the API shows it: never the key or the secret, only whether they are set. */
export type LmsConnection = Omit<LmsConnectionRow, 'apiKey' | 'apiSecret'> & { hasApiKey: boolean; hasApiSecret: boolean };

export interface CreateLmsConnection {
  organizationId?: string | undefined;
  platform: LmsPlatform;
  url: string;
  apiKey: string;
  apiSecret?: string | null | undefined;
}

export interface UpdateLmsConnection {
  url?: string | undefined;
  apiKey?: string | undefined;
  apiSecret?: string | null | undefined;
  status?: 'active' | 'inactive' | undefined;
}

export interface TestResult {
  ok: boolean;
  error: { code: LmsErrorCode | 'undecryptable'; message: string } | null;
  connection: LmsConnection;
}

const toConnection = ({ apiKey, apiSecret, ...rest }: LmsConnectionRow): LmsConnection => ({
  ...rest,
  hasApiKey: apiKey !== null,
  hasApiSecret: apiSecret !== null,
});

/** The additional data a secret is sealed with: its row and column. */
const context = (id: string, column: 'api_key' | 'api_secret') => `lms_connections:${id}:${column}`;

export function createLmsService(deps: { repo: LmsRepository; access: Access; audit: AuditService; jobs: JobQueue; box: SecretBox; client: LmsClient; log: Logger }) {
  const { repo, access, audit, jobs, box, client, log } = deps;

  /**
   * The one authorization of a connection by id: a personal connection is its owner's alone; an
   * organization's needs lms.manage there. Anything else answers 404, so ids leak nothing.
   */
  async function authorize(actor: Actor, id: string): Promise<{ user: UserActor; row: LmsConnectionRow }> {
    const user = access.requireUser(actor);
    const row = await repo.get(id);
    if (!row) throw notFound('LMS connection');
    if (row.organizationId) {
      try {
        await access.requireOrg(actor, row.organizationId, 'lms.manage');
      } catch (err) {
        if (err instanceof AppError && err.kind === 'not_found') throw notFound('LMS connection');
        throw err;
      }
    } else if (row.userId !== user.userId) {
      throw notFound('LMS connection');
    }
    return { user, row };
  }

  /** The stored credentials, decrypted; null when they cannot be (AUTH_SECRET changed). */
  function siteOf(row: LmsConnectionRow): LmsSite | null {
    if (row.apiKey === null) return null;
    try {
      return {
        platform: row.platform,
        url: row.url,
        apiKey: box.open(row.apiKey, context(row.id, 'api_key')),
        apiSecret: row.apiSecret === null ? null : box.open(row.apiSecret, context(row.id, 'api_secret')),
      };
    } catch {
      return null;
    }
  }
  const undecryptable = 'The stored API key cannot be decrypted (was AUTH_SECRET changed?); enter the key again';

  const auditEntry = (user: UserActor, row: LmsConnectionRow, metadata: Record<string, unknown>) => ({
    userId: user.userId,
    organizationId: row.organizationId,
    resourceType: 'lms_connection',
    resourceId: row.id,
    meta: user.meta,
    metadata: { platform: row.platform, url: row.url, ...metadata },
  });

  return {
    async create(actor: Actor, input: CreateLmsConnection): Promise<LmsConnection> {
      const user = access.requireUser(actor);
      if (input.organizationId) await access.requireOrg(actor, input.organizationId, 'lms.manage');
      const id = newId();
      const row = await repo.insert({
        id,
        userId: user.userId,
        organizationId: input.organizationId ?? null,
        platform: input.platform,
        url: input.url,
        apiKey: box.seal(input.apiKey, context(id, 'api_key')),
        apiSecret: input.apiSecret ? box.seal(input.apiSecret, context(id, 'api_secret')) : null,
      });
      await audit.record({ action: 'lms_connection.created', ...auditEntry(user, row, {}) });
      return toConnection(row);
    },

    /** My personal connections, or an organization's when `organizationId` is given. */
    async list(actor: Actor, q: PageQuery & { organizationId?: string | undefined }): Promise<Page<LmsConnection>> {
      const page = { before: decodeCursor(q.cursor), limit: q.limit };
      let rows: LmsConnectionRow[];
      const user = access.requireUser(actor);
      if (q.organizationId) {
        await access.requireOrg(actor, q.organizationId, 'lms.manage');
        rows = await repo.list({ organizationId: q.organizationId }, page);
      } else {
        rows = await repo.list({ userId: user.userId }, page);
      }
      const result = toPage(rows, q.limit);
      return { items: result.items.map(toConnection), nextCursor: result.nextCursor };
    },

    async get(actor: Actor, id: string): Promise<LmsConnection> {
      return toConnection((await authorize(actor, id)).row);
    },

    /**
     * A new address or key makes the last test's verdict stale: an `error` connection goes back
     * to `active` (untested) and its error is cleared. `inactive` is only left by asking.
     */
    async update(actor: Actor, id: string, input: UpdateLmsConnection): Promise<LmsConnection> {
      const { user, row } = await authorize(actor, id);
      const patch: LmsConnectionPatch = {};
      if (input.url !== undefined) patch.url = input.url;
      if (input.apiKey !== undefined) patch.apiKey = box.seal(input.apiKey, context(id, 'api_key'));
      if (input.apiSecret !== undefined) patch.apiSecret = input.apiSecret === null ? null : box.seal(input.apiSecret, context(id, 'api_secret'));
      const credentialsChanged = input.url !== undefined || input.apiKey !== undefined || input.apiSecret !== undefined;
      if (input.status !== undefined) patch.status = input.status;
      else if (credentialsChanged && row.status === 'error') patch.status = 'active';
      if (patch.status === 'active' && (credentialsChanged || row.status === 'error')) patch.lastError = null;
      const updated = await repo.update(id, patch);
      if (!updated) throw notFound('LMS connection');
      const changed = Object.keys(input).filter((k) => input[k as keyof UpdateLmsConnection] !== undefined);
      await audit.record({ action: 'lms_connection.updated', ...auditEntry(user, updated, { changed, ...(input.status ? { status: input.status } : {}) }) });
      return toConnection(updated);
    },

    async delete(actor: Actor, id: string): Promise<void> {
      const { user, row } = await authorize(actor, id);
      if (!(await repo.delete(id))) throw notFound('LMS connection');
      await audit.record({ action: 'lms_connection.deleted', ...auditEntry(user, row, {}) });
    },

    /**
     * Calls the site with the stored key (Moodle core_webservice_get_site_info, Canvas
     * users/self) and records the verdict: `active` with last_sync_at now, or `error` with the
     * reason. A switched-off connection can be tested and stays `inactive`.
     */
    async test(actor: Actor, id: string): Promise<TestResult> {
      const { row } = await authorize(actor, id);
      const site = siteOf(row);
      const now = new Date();
      let error: TestResult['error'] = null;
      let patch: Parameters<LmsRepository['recordOutcome']>[3];
      if (!site) {
        error = { code: 'undecryptable', message: undecryptable };
        patch = { lastTestedAt: now, lastError: error.message };
      } else {
        try {
          const info = await client.siteInfo(site);
          patch = { lastTestedAt: now, lastSyncAt: now, lastError: null, siteName: info.siteName };
        } catch (err) {
          if (!(err instanceof LmsError)) throw err;
          error = { code: err.code, message: err.message };
          patch = { lastTestedAt: now, lastError: err.message };
        }
      }
      const recorded = await repo.recordOutcome(id, row, error ? 'error' : 'active', patch);
      // Edited or deleted while the call was out: report what the site said, about the row as it is.
      const current = recorded ?? (await repo.get(id));
      if (!current) throw notFound('LMS connection');
      return { ok: !error, error, connection: toConnection(current) };
    },

    /** Queues a course sync; one at a time per connection (a second request while one is queued is the same job). */
    async requestSync(actor: Actor, id: string): Promise<{ queued: true; jobId: string | null }> {
      const { row } = await authorize(actor, id);
      if (row.status === 'inactive') throw new AppError('conflict', 'This connection is switched off; set its status to active first', { code: 'connection_inactive' });
      const jobId = await jobs.send('lms.sync', { connectionId: id }, { key: `lms.sync:${id}` });
      return { queued: true, jobId };
    },

    /**
     * The lms.sync job: fetches the site's courses and stores their count and the first 100.
     * Idempotent; a failure is recorded on the connection (status error) rather than retried,
     * since its owner has to act on it.
     */
    async runSync(connectionId: string): Promise<void> {
      const row = await repo.get(connectionId);
      if (!row || row.status === 'inactive') return;
      const site = siteOf(row);
      const now = new Date();
      if (!site) {
        await repo.recordOutcome(row.id, row, 'error', { lastError: undecryptable });
        return;
      }
      try {
        const list = await client.courses(site);
        await repo.recordOutcome(row.id, row, 'active', { lastSyncAt: now, lastError: null, courseCount: list.total, courses: list.courses });
      } catch (err) {
        if (!(err instanceof LmsError)) throw err;
        log.info({ connectionId: row.id, platform: row.platform, code: err.code }, 'LMS sync failed');
        await repo.recordOutcome(row.id, row, 'error', { lastError: err.message });
      }
    },
  };
}
export type LmsService = ReturnType<typeof createLmsService>;
