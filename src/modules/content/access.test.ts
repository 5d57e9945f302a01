import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { newId } from '../../core/ids.ts';
import type { Storage } from '../storage/index.ts';
import { createPlaybackService } from './index.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx.close());

async function media(owner: TestUser, organizationId: string | null = null) {
  const id = newId();
  await ctx.database.raw.query(
    `insert into media_items (id, creator_id, organization_id, title, media_type, status, r2_key, duration_seconds, hls_master_playlist_key)
     values ($1, $2, $3, 'clip', 'video', 'ready', $4, 60, $5)`,
    [id, owner.id, organizationId, `originals/${id}/a.mp4`, `hls/${id}/master.m3u8`],
  );
  await ctx.services.storage.put(`hls/${id}/master.m3u8`, Buffer.from('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n'));
  return id;
}
const post = (url: string, token: string | undefined, payload: unknown = {}, headers: Record<string, string> = {}) => ctx.req({ method: 'POST', url, token, payload: payload as object, headers });

describe('the access decision: members, written content, grants', () => {
  it('organization members with a content role play everything of it; clients and outsiders do not', async () => {
    const owner = await ctx.newUser({ role: 'creator' });
    const org = await ctx.newOrg(owner);
    const colleague = await ctx.newUser({ role: 'creator' });
    await ctx.addMember(owner, org.id, colleague, 'creator');
    const m = await media(owner, org.id);
    const c = (await post('/v1/content', owner.token, { organizationId: org.id, contentType: 'video', mediaItemId: m, title: 'Paid', priceCents: 900 })).json<{ id: string }>();
    expect((await post(`/v1/content/${c.id}/publish`, owner.token)).statusCode).toBe(200);
    expect((await post(`/v1/content/${c.id}/playback`, colleague.token)).json<{ reason: string }>().reason).toBe('member');
    const outsider = await ctx.newUser();
    expect((await post(`/v1/content/${c.id}/playback`, outsider.token)).statusCode).toBe(402);
    // The colleague may also manage it; an organization's content lists for its members.
    expect((await ctx.req({ method: 'GET', url: `/v1/content?organizationId=${org.id}`, token: colleague.token })).json<{ items: unknown[] }>().items).toHaveLength(1);
    // The creator cannot buy their own content.
    expect((await post('/v1/purchases', owner.token, { contentId: c.id })).json<{ code: string }>().code).toBe('own_content');
  });

  it('written content: a body and no media, not playable, its body kept out of the catalog', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const w = await post('/v1/content', creator.token, { contentType: 'written', title: 'An essay', contentBody: '<p>secret words</p>', priceCents: null, visibility: 'public' });
    expect(w.statusCode, w.body).toBe(201);
    const id = w.json<{ id: string }>().id;
    await post(`/v1/content/${id}/publish`, creator.token);
    const listed = await ctx.req({ method: 'GET', url: `/v1/catalog/${id}` });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain('secret words');
    expect((await post(`/v1/content/${id}/playback`, creator.token)).json<{ code: string }>().code).toBe('not_playable');
    const m = await media(creator);
    expect((await post('/v1/content', creator.token, { contentType: 'written', title: 'x', contentBody: 'b', mediaItemId: m })).statusCode).toBe(422);
    // An audio content may not use a video item.
    expect((await post('/v1/content', creator.token, { contentType: 'audio', title: 'x', mediaItemId: m })).json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('body.mediaItemId');
  });

  it('publishing needs a ready media item; one item serves several contents', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const m = await media(creator);
    const a = (await post('/v1/content', creator.token, { contentType: 'video', mediaItemId: m, title: 'Cut A' })).json<{ id: string }>();
    const b = (await post('/v1/content', creator.token, { contentType: 'video', mediaItemId: m, title: 'Cut B' })).json<{ id: string }>();
    expect(a.id).not.toBe(b.id);
    await ctx.database.raw.query(`update media_items set status = 'transcoding' where id = $1`, [m]);
    const res = await post(`/v1/content/${a.id}/publish`, creator.token);
    expect(res.statusCode).toBe(409);
    expect(res.json<{ code: string }>().code).toBe('media_not_ready');
  });

  it('a purchase replays under its Idempotency-Key; a grant to an unknown user names the field', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const buyer = await ctx.newUser();
    const m = await media(creator);
    const c = (await post('/v1/content', creator.token, { contentType: 'video', mediaItemId: m, title: 'Replay', priceCents: 700 })).json<{ id: string }>();
    await post(`/v1/content/${c.id}/publish`, creator.token);
    const key = newId();
    const first = await post('/v1/purchases', buyer.token, { contentId: c.id }, { 'idempotency-key': key });
    const again = await post('/v1/purchases', buyer.token, { contentId: c.id }, { 'idempotency-key': key });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<{ purchase: { id: string } }>().purchase.id).toBe(first.json<{ purchase: { id: string } }>().purchase.id);
    const bad = await post(`/v1/content/${c.id}/access`, creator.token, { email: 'nobody@example.com' });
    expect(bad.statusCode).toBe(422);
    expect(bad.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('body.email');
    const past = await post(`/v1/content/${c.id}/access`, creator.token, { userId: buyer.id, expiresAt: '2020-01-01T00:00:00Z' });
    expect(past.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('body.expiresAt');
  });

  it('with S3 storage, rewritten playlists carry presigned segment URLs and signed playlist URLs', async () => {
    const s3: Storage = {
      ...ctx.services.storage,
      driver: 's3',
      presignGet: (key, ttl) => Promise.resolve(`https://bucket.s3.example/${key}?X-Amz-Expires=${ttl}`),
      read: () => Promise.resolve(Readable.from([])),
    };
    const playback = createPlaybackService({ repo: ctx.services.contentRepo, access: ctx.services.access, storage: s3, secret: 'x'.repeat(32), publicUrl: 'https://fan.example', ttlSeconds: 300, thumbnails: ctx.services.thumbnails });
    const ids = { contentId: newId(), mediaId: newId(), userId: newId() };
    const prefix = `hls/${ids.mediaId}/`;
    const out = await playback.rewrite('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="key.bin"\n#EXTINF:4,\nseg0.ts\nnested/index.m3u8\nhttps://cdn.example/ad.ts\n../../other/seg.ts\n', `${prefix}360p/index.m3u8`, { ...ids, prefix }, 60);
    const lines = out.split('\n');
    expect(lines).toContain(`https://bucket.s3.example/${prefix}360p/seg0.ts?X-Amz-Expires=420`);
    expect(lines.some((l) => l.includes(`URI="https://bucket.s3.example/${prefix}360p/key.bin`))).toBe(true);
    expect(lines.some((l) => /^https:\/\/fan\.example\/v1\/play\/[^/]+\/360p\/nested\/index\.m3u8$/.test(l))).toBe(true);
    expect(lines).toContain('https://cdn.example/ad.ts');
    expect(out).not.toContain('other/seg.ts');
  });

  it('settings refuse a Stripe account on an organization and keep it off the public read', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    const owner = await ctx.newUser({ role: 'creator' });
    const org = await ctx.newOrg(owner);
    expect((await ctx.req({ method: 'PUT', url: '/v1/admin/settings', token: admin.token, payload: { stripeAccountId: 'acct_123' } })).statusCode).toBe(200);
    expect((await ctx.req({ method: 'GET', url: '/v1/settings' })).body).not.toContain('acct_123');
    const res = await ctx.req({ method: 'PUT', url: `/v1/orgs/${org.id}/settings`, token: owner.token, payload: { stripeAccountId: 'acct_456' } });
    expect(res.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('body.stripeAccountId');
  });

  it('prerequisites gate playback until each is completed', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const viewer = await ctx.newUser();
    const mk = async (title: string, extra: Record<string, unknown> = {}) => {
      const c = (await post('/v1/content', creator.token, { contentType: 'video', mediaItemId: await media(creator), title, priceCents: null, visibility: 'public', ...extra })).json<{ id: string }>();
      expect((await post(`/v1/content/${c.id}/publish`, creator.token)).statusCode).toBe(200);
      return c.id;
    };
    const first = await mk('Lesson 1');
    const second = await mk('Lesson 2', { prerequisiteContentIds: [first] });
    const gated = await post(`/v1/content/${second}/playback`, viewer.token);
    expect(gated.statusCode).toBe(403);
    expect(gated.json<{ code: string }>().code).toBe('prerequisites_not_met');
    expect((await post(`/v1/content/${second}/playback`, creator.token)).statusCode).toBe(200);
    await ctx.req({ method: 'PUT', url: `/v1/content/${first}/progress`, token: viewer.token, payload: { positionSeconds: 58, durationSeconds: 60 } });
    expect((await post(`/v1/content/${second}/playback`, viewer.token)).statusCode).toBe(200);
    const self = await ctx.req({ method: 'PATCH', url: `/v1/content/${first}`, token: creator.token, payload: { prerequisiteContentIds: [first] } });
    expect(self.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('body.prerequisiteContentIds');
  });
});
