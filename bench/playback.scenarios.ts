import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newId } from '../src/core/ids.ts';
import { AUTHORIZE_SQL, PROGRESS_SQL } from '../src/modules/content/index.ts';
import { SESSION_BY_TOKEN_SQL, type SessionRow } from '../src/modules/identity/index.ts';
import type { BenchContext, HttpScenario } from './scenarios.ts';

/**
 * The creator platform's playback hot paths: authorize (the access decision, the view count and
 * a signed master playlist URL) and the progress upsert the player sends every 10-30 s. Each has
 * a raw baseline on the bare Fastify: what a minimal hand-written route does with the app's own
 * statements, as named prepared statements: the session statement for the bearer token, then the
 * route's one statement.
 */

interface Fixture {
  contentId: string;
  token: string;
}

const fixtures = new WeakMap<BenchContext, Promise<Fixture>>();

/** One published paid video, bought by one customer (a purchased grant), shared by the four results. */
function playbackFixture(ctx: BenchContext): Promise<Fixture> {
  const known = fixtures.get(ctx);
  if (known) return known;
  const fixture = (async () => {
    const creator = await ctx.newUser({ role: 'creator', name: 'Bench creator' });
    const customer = await ctx.newUser({ name: 'Bench viewer' });
    const mediaId = newId();
    const contentId = newId();
    await ctx.database.raw.query(
      `insert into media_items (id, creator_id, title, media_type, status, r2_key, duration_seconds, hls_master_playlist_key)
       values ($1, $2, 'bench clip', 'video', 'ready', $3, 600, $4)`,
      [mediaId, creator.id, `originals/${mediaId}/clip.mp4`, `hls/${mediaId}/master.m3u8`],
    );
    await ctx.database.raw.query(
      `insert into content (id, creator_id, media_item_id, title, slug, content_type, visibility, price_cents, status, published_at)
       values ($1, $2, $3, 'Bench video', $4, 'video', 'purchased_only', 1500, 'published', now())`,
      [contentId, creator.id, mediaId, `bench-${contentId.slice(-12)}`],
    );
    await ctx.database.raw.query(`insert into content_access (id, user_id, content_id, access_type) values ($1, $2, $3, 'purchased')`, [newId(), customer.id, contentId]);
    return { contentId, token: customer.token };
  })();
  fixtures.set(ctx, fixture);
  return fixture;
}

/** The same named prepared statements the app uses. */
type Named = BenchContext['database']['named'];

/**
 * The bearer token's session, by the app's own session statement (its user's e-mail, role and
 * status come with it), with the checks a hand-written route would make of that row: there, not
 * expired, the account active. 401 or 403 otherwise; null then, as the reply is sent.
 */
async function rawUser(named: Named, req: FastifyRequest, reply: FastifyReply): Promise<{ id: string; user_id: string } | null> {
  const h = req.headers.authorization;
  const token = h?.startsWith('Bearer ') ? h.slice(7) : null;
  const row = token ? (await named<SessionRow>('bench_raw_session', SESSION_BY_TOKEN_SQL, [token]))[0] : undefined;
  if (!row || row.expiresAt.getTime() <= Date.now()) {
    await reply.status(401).send({ error: 'unauthenticated' });
    return null;
  }
  if (row.status !== 'active') {
    await reply.status(403).send({ error: 'account not active' });
    return null;
  }
  return { id: row.sessionId, user_id: row.userId };
}

const uuidBytes = (u: string) => Buffer.from(u.replace(/-/g, ''), 'hex');

export const playbackScenarios: HttpScenario[] = [
  {
    name: 'playback-authorize-raw',
    baseline: null,
    measures:
      'Baseline: a hand-written POST playback route on the bare Fastify: the app session statement for the bearer token, the same authorize statement (access decision and view count) as a named prepared statement on node-postgres, HMAC-signed URL',
    bareRoutes(bare: FastifyInstance, ctx: BenchContext) {
      const named = ctx.database.named;
      const key = createHmac('sha256', ctx.config.authSecret).update('fanfare-playback-urls-v1').digest();
      bare.post<{ Params: { id: string } }>('/raw/content/:id/playback', async (req, reply) => {
        const session = await rawUser(named, req, reply);
        if (!session) return reply;
        const userId = session.user_id;
        const row = (await named<{ reason: string | null; media_item_id: string; hls_master_playlist_key: string }>('bench_raw_authorize', AUTHORIZE_SQL, [
            req.params.id,
            userId,
            newId(),
            session.id,
            req.ip,
            req.headers['user-agent'] ?? null,
            req.headers.referer ?? null,
          ]))[0];
        if (!row?.reason) return reply.status(403).send({ error: 'no access' });
        const exp = Math.floor(Date.now() / 1000) + 300;
        const e = Buffer.alloc(4);
        e.writeUInt32BE(exp);
        const body = Buffer.concat([uuidBytes(req.params.id), uuidBytes(row.media_item_id), uuidBytes(userId), e]);
        const prefix = row.hls_master_playlist_key.slice(0, row.hls_master_playlist_key.lastIndexOf('/') + 1);
        const sig = createHmac('sha256', key).update(body).update(prefix).digest().subarray(0, 16).toString('base64url');
        return { allowed: true, reason: row.reason, masterPlaylistUrl: `${ctx.config.publicUrl}/v1/play/${body.toString('base64url')}.${sig}/master.m3u8`, urlExpiresAt: new Date(exp * 1000) };
      });
    },
    async setup(ctx) {
      const f = await playbackFixture(ctx);
      return { target: 'bare', method: 'POST', path: `/raw/content/${f.contentId}/playback`, headers: { authorization: `Bearer ${f.token}` } };
    },
  },
  {
    name: 'playback-authorize',
    baseline: 'playback-authorize-raw',
    measures: 'POST /v1/content/:id/playback: the session statement, the one access-decision statement (prepared), view count, signed master playlist URL',
    async setup(ctx) {
      const f = await playbackFixture(ctx);
      return { method: 'POST', path: `/v1/content/${f.contentId}/playback`, headers: { authorization: `Bearer ${f.token}` } };
    },
  },
  {
    name: 'playback-progress-raw',
    baseline: null,
    measures: 'Baseline: a hand-written PUT progress route on the bare Fastify: the app session statement for the bearer token, then the same access-checked upsert (one named prepared statement)',
    bareRoutes(bare: FastifyInstance, ctx: BenchContext) {
      const named = ctx.database.named;
      bare.put<{ Params: { id: string }; Body: { positionSeconds: number; durationSeconds: number } }>('/raw/content/:id/progress', async (req, reply) => {
        const session = await rawUser(named, req, reply);
        if (!session) return reply;
        const userId = session.user_id;
        const { positionSeconds, durationSeconds } = req.body;
        if (!Number.isInteger(positionSeconds) || !Number.isInteger(durationSeconds) || positionSeconds < 0 || positionSeconds > durationSeconds) {
          return reply.status(400).send({ error: 'bad position' });
        }
        const row = (await named<{ reason: string | null; position_seconds: number; completed: boolean }>('bench_raw_progress', PROGRESS_SQL, [req.params.id, userId, newId(), positionSeconds, durationSeconds]))[0];
        if (!row?.reason) return reply.status(403).send({ error: 'no access' });
        return { contentId: req.params.id, positionSeconds: row.position_seconds, completed: row.completed };
      });
    },
    async setup(ctx) {
      const f = await playbackFixture(ctx);
      return {
        target: 'bare',
        method: 'PUT',
        path: `/raw/content/${f.contentId}/progress`,
        headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ positionSeconds: 120, durationSeconds: 600 }),
      };
    },
  },
  {
    name: 'playback-progress',
    baseline: 'playback-progress-raw',
    measures: 'PUT /v1/content/:id/progress: the session statement, zod, the access-checked progress upsert in one prepared statement',
    async setup(ctx) {
      const f = await playbackFixture(ctx);
      return {
        method: 'PUT',
        path: `/v1/content/${f.contentId}/progress`,
        headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ positionSeconds: 120, durationSeconds: 600 }),
      };
    },
  },
];
