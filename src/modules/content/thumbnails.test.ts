import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, testConfig, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { anonymous } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { startFakeS3 } from '../../../test/fake-s3.ts';
import { createS3Storage, type Storage } from '../storage/index.ts';
import { createThumbnailService } from './index.ts';

let ctx: TestContext;
let publicUrl: string;
beforeAll(async () => {
  ctx = await createTestContext();
  publicUrl = testConfig().publicUrl;
});
afterAll(async () => ctx.close());

/** A tiny JPEG (SOI, JFIF APP0, EOI): what ffmpeg writes to thumbnails/{media_id}/thumb.jpg, in miniature. */
const JPEG = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
  0xff, 0xd9,
]);

/** A media item as the pipeline leaves it: ready with a stored thumbnail, or still transcoding. */
async function media(
  owner: TestUser,
  opts: { organizationId?: string | null; status?: 'ready' | 'transcoding'; thumbnail?: boolean } = {},
) {
  const id = newId();
  const status = opts.status ?? 'ready';
  const thumb = (opts.thumbnail ?? status === 'ready') ? `thumbnails/${id}/thumb.jpg` : null;
  await ctx.database.raw.query(
    `insert into media_items (id, creator_id, organization_id, title, media_type, status, r2_key, duration_seconds, hls_master_playlist_key, thumbnail_key, transcoded_at)
     values ($1, $2, $3, 'clip', 'video', $4, $5, 60, $6, $7, $8)`,
    [
      id,
      owner.id,
      opts.organizationId ?? null,
      status,
      `originals/${id}/a.mp4`,
      status === 'ready' ? `hls/${id}/master.m3u8` : null,
      thumb,
      status === 'ready' ? new Date() : null,
    ],
  );
  if (thumb) await ctx.services.storage.put(thumb, JPEG, { contentType: 'image/jpeg' });
  return id;
}

interface Dto {
  id: string;
  thumbnailUrl: string | null;
  thumbnailSource: 'custom' | 'generated' | null;
}

async function content(creator: TestUser, body: Record<string, unknown> = {}, publish = true) {
  const mediaItemId = (body.mediaItemId as string | undefined) ?? (await media(creator, { organizationId: (body.organizationId as string | undefined) ?? null }));
  const res = await ctx.req({
    method: 'POST',
    url: '/v1/content',
    token: creator.token,
    payload: { contentType: 'video', title: 'Flow', visibility: 'public', ...body, mediaItemId },
  });
  expect(res.statusCode, res.body).toBe(201);
  const c = res.json<Dto>();
  if (publish) {
    const pub = await ctx.req({ method: 'POST', url: `/v1/content/${c.id}/publish`, token: creator.token });
    expect(pub.statusCode, pub.body).toBe(200);
  }
  return { ...c, mediaItemId };
}

const thumb = (id: string, token?: string, headers: Record<string, string> = {}) =>
  ctx.req({ method: 'GET', url: `/v1/content/${id}/thumbnail`, token, headers });
const generated = (id: string, mediaItemId: string) =>
  `${publicUrl}/v1/content/${id}/thumbnail?v=${mediaItemId.replace(/-/g, '').slice(-12)}`;

describe('thumbnails', () => {
  it('every content DTO carries the generated thumbnail URL: catalog, detail, managed lists, series items, continue watching', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const viewer = await ctx.newUser();
    const c = await content(creator, { priceCents: null });
    const url = generated(c.id, c.mediaItemId);

    const detail = await ctx.req({ method: 'GET', url: `/v1/catalog/${c.id}` });
    expect(detail.json<Dto>()).toMatchObject({ thumbnailUrl: url, thumbnailSource: 'generated' });
    const catalog = await ctx.req({ method: 'GET', url: `/v1/catalog?creatorId=${creator.id}` });
    expect(catalog.json<{ items: Dto[] }>().items.map((i) => i.thumbnailUrl)).toEqual([url]);
    expect((await ctx.req({ method: 'GET', url: `/v1/content/${c.id}`, token: creator.token })).json<Dto>().thumbnailUrl).toBe(url);
    const managed = await ctx.req({ method: 'GET', url: '/v1/content', token: creator.token });
    expect(managed.json<{ items: Dto[] }>().items.find((i) => i.id === c.id)?.thumbnailUrl).toBe(url);

    const series = (await ctx.req({ method: 'POST', url: '/v1/series', token: creator.token, payload: { title: 'Course' } })).json<{ id: string }>();
    expect((await ctx.req({ method: 'PUT', url: `/v1/series/${series.id}/items`, token: creator.token, payload: { contentIds: [c.id] } })).statusCode).toBe(200);
    expect((await ctx.req({ method: 'PATCH', url: `/v1/series/${series.id}`, token: creator.token, payload: { status: 'published' } })).statusCode).toBe(200);
    const items = (await ctx.req({ method: 'GET', url: `/v1/catalog/series/${series.id}` })).json<{ items: Dto[] }>().items;
    expect(items.map((i) => i.thumbnailUrl)).toEqual([url]);

    const saved = await ctx.req({ method: 'PUT', url: `/v1/content/${c.id}/progress`, token: viewer.token, payload: { positionSeconds: 10, durationSeconds: 60 } });
    expect(saved.statusCode, saved.body).toBe(200);
    const cw = await ctx.req({ method: 'GET', url: '/v1/me/continue-watching', token: viewer.token });
    expect(cw.json<{ items: { contentId: string; thumbnailUrl: string | null }[] }>().items).toEqual([expect.objectContaining({ contentId: c.id, thumbnailUrl: url })]);

    // A client echoing the DTO back does not turn the generated URL into a custom one.
    const echoed = await ctx.req({ method: 'PATCH', url: `/v1/content/${c.id}`, token: creator.token, payload: { thumbnailUrl: url } });
    expect(echoed.json<Dto>()).toMatchObject({ thumbnailUrl: url, thumbnailSource: 'generated' });
    const [row] = (await ctx.database.raw.query(`select thumbnail_url from content where id = $1`, [c.id])).rows as { thumbnail_url: string | null }[];
    expect(row!.thumbnail_url).toBeNull();
  });

  it('serves the stored JPEG to anyone for listed content, with Cache-Control and an ETag that answers 304', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const c = await content(creator, { priceCents: 900, visibility: 'purchased_only' });
    const res = await ctx.req({ method: 'GET', url: new URL(generated(c.id, c.mediaItemId)).pathname + new URL(generated(c.id, c.mediaItemId)).search });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('image/jpeg');
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.rawPayload.equals(JPEG)).toBe(true);
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    const again = await thumb(c.id, undefined, { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
    expect((await thumb(c.id, undefined, { 'if-none-match': '"other"' })).statusCode).toBe(200);
    const members = await content(creator, { visibility: 'members_only' });
    expect((await thumb(members.id)).statusCode).toBe(200);
  });

  it('a draft’s or a private content’s thumbnail is 404 to strangers and served to the creator and the organization', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const stranger = await ctx.newUser();
    const draft = await content(creator, {}, false);
    const priv = await content(creator, { visibility: 'private' });
    for (const id of [draft.id, priv.id]) {
      expect((await thumb(id)).statusCode).toBe(404);
      expect((await thumb(id, stranger.token)).statusCode).toBe(404);
      const mine = await thumb(id, creator.token);
      expect(mine.statusCode, mine.body).toBe(200);
      expect(mine.headers['cache-control']).toBe('private, no-cache');
      expect(mine.rawPayload.equals(JPEG)).toBe(true);
    }
    // The draft's DTO still shows the creator the URL; the catalog has none of it.
    expect((await ctx.req({ method: 'GET', url: `/v1/content/${draft.id}`, token: creator.token })).json<Dto>().thumbnailSource).toBe('generated');
    expect((await ctx.req({ method: 'GET', url: `/v1/catalog/${draft.id}` })).statusCode).toBe(404);

    const owner = await ctx.newUser({ role: 'creator' });
    const member = await ctx.newUser();
    const org = await ctx.newOrg(owner);
    await ctx.addMember(owner, org.id, member, 'manager');
    const orgDraft = await content(owner, { organizationId: org.id }, false);
    expect((await thumb(orgDraft.id, member.token)).statusCode).toBe(200);
    expect((await thumb(orgDraft.id, creator.token)).statusCode).toBe(404);
  });

  it('the creator’s own thumbnailUrl wins, in DTOs and as a redirect', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const own = 'https://cdn.example/covers/flow.jpg';
    const c = await content(creator, { thumbnailUrl: own });
    expect((await ctx.req({ method: 'GET', url: `/v1/catalog/${c.id}` })).json<Dto>()).toMatchObject({ thumbnailUrl: own, thumbnailSource: 'custom' });
    const res = await thumb(c.id);
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(own);
    // Clearing it falls back to the generated one.
    const cleared = await ctx.req({ method: 'PATCH', url: `/v1/content/${c.id}`, token: creator.token, payload: { thumbnailUrl: null } });
    expect(cleared.json<Dto>()).toMatchObject({ thumbnailUrl: generated(c.id, c.mediaItemId), thumbnailSource: 'generated' });
  });

  it('a media item still transcoding, or without a thumbnail, answers 404 saying why; written content has none', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const busy = await content(creator, { mediaItemId: await media(creator, { status: 'transcoding' }) }, false);
    expect(busy).toMatchObject({ thumbnailUrl: null, thumbnailSource: null });
    const res = await thumb(busy.id, creator.token);
    expect(res.statusCode).toBe(404);
    expect(res.json<{ code: string; detail: string }>()).toMatchObject({ code: 'thumbnail_not_ready', detail: expect.stringMatching(/transcod/) });
    const none = await content(creator, { mediaItemId: await media(creator, { thumbnail: false }) });
    expect(none.thumbnailUrl).toBeNull();
    expect((await thumb(none.id)).json<{ code: string }>().code).toBe('no_thumbnail');
    const written = await ctx.req({ method: 'POST', url: '/v1/content', token: creator.token, payload: { contentType: 'written', title: 'Notes', contentBody: 'Hello' } });
    expect(written.json<Dto>().thumbnailUrl).toBeNull();
    expect((await thumb(written.json<Dto>().id, creator.token)).json<{ code: string }>().code).toBe('no_thumbnail');
  });

  it('with S3 storage the route redirects to a presigned GET, still refusing strangers a draft', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const presigned: [string, number][] = [];
    const s3: Storage = {
      ...ctx.services.storage,
      driver: 's3',
      presignGet: (key, ttl) => {
        presigned.push([key, ttl]);
        return Promise.resolve(`https://bucket.s3.example/${key}?X-Amz-Expires=${ttl}`);
      },
      stat: () => Promise.reject(new Error('S3 thumbnails are not read through Fanfare')),
    };
    const thumbnails = createThumbnailService({ repo: ctx.services.contentRepo, storage: s3, publicUrl, ttlSeconds: 600 });
    const c = await content(creator);
    const r = await thumbnails.serve(anonymous({ ip: null, userAgent: null, requestId: 'r' }), c.id);
    expect(r).toMatchObject({ status: 302, headers: { location: `https://bucket.s3.example/thumbnails/${c.mediaItemId}/thumb.jpg?X-Amz-Expires=600`, 'cache-control': 'public, max-age=300' } });
    expect(presigned).toEqual([[`thumbnails/${c.mediaItemId}/thumb.jpg`, 600]]);
    const draft = await content(creator, {}, false);
    await expect(thumbnails.serve(anonymous({ ip: null, userAgent: null, requestId: 'r' }), draft.id)).rejects.toBeInstanceOf(AppError);
    expect(presigned).toHaveLength(1);
  });

  it('against an S3 store (the loopback fake), the presigned redirect fetches the stored JPEG', async () => {
    const fake = await startFakeS3();
    try {
      const s3 = createS3Storage({ endpoint: fake.url, region: fake.region, bucket: fake.bucket, accessKeyId: fake.accessKeyId, secretAccessKey: fake.secretAccessKey, forcePathStyle: true });
      const thumbnails = createThumbnailService({ repo: ctx.services.contentRepo, storage: s3, publicUrl, ttlSeconds: 60 });
      const creator = await ctx.newUser({ role: 'creator' });
      const c = await content(creator, { visibility: 'purchased_only', priceCents: 500 });
      await s3.put(`thumbnails/${c.mediaItemId}/thumb.jpg`, JPEG, { contentType: 'image/jpeg' });
      const r = await thumbnails.serve(anonymous({ ip: null, userAgent: null, requestId: 'r' }), c.id);
      expect(r.status).toBe(302);
      // A cached redirect never outlives the presigned URL it points to.
      expect(r.headers['cache-control']).toBe('public, max-age=30');
      const img = await fetch(r.headers.location!);
      expect(img.status).toBe(200);
      expect(Buffer.from(await img.arrayBuffer()).equals(JPEG)).toBe(true);
      expect(fake.log.at(-1)).toMatchObject({ method: 'GET', key: `thumbnails/${c.mediaItemId}/thumb.jpg`, auth: 'query', status: 200 });
    } finally {
      await fake.close();
    }
  });

  it('bad input is a 400 naming the field; an unknown id is 404', async () => {
    const res = await ctx.req({ method: 'GET', url: '/v1/content/not-a-uuid/thumbnail' });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('params.id');
    expect((await thumb(newId())).statusCode).toBe(404);
  });
});
