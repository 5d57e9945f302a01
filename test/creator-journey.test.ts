import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/core/ids.ts';
import { reconcile } from '../src/modules/ledger/index.ts';
import { renditionsFor } from '../src/modules/media/index.ts';
import { createTestContext, type LightMyRequestResponse, type TestContext, type TestUser } from './helpers.ts';
import { createMedia, filesUnder, makeClip, tusCreate, tusHead, tusPatch } from './media-fixtures.ts';

/**
 * The creator media issue end to end, through the real pipeline: a clip made by ffmpeg is
 * uploaded with tus, transcoded to HLS by the `media.transcode` job, sold through the sandbox
 * provider (its webhook over real HTTP), and played back through signed URLs segment by segment.
 * Nothing here is faked: playlists and segments are the ones ffmpeg wrote.
 */

const ffmpeg = process.env.FFMPEG_PATH ?? 'ffmpeg';
const ffprobe = process.env.FFPROBE_PATH ?? 'ffprobe';
const hasTools = [ffmpeg, ffprobe].every((bin) => {
  try {
    execFileSync(bin, ['-hide_banner', '-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!hasTools) {
  console.warn(
    `creator-journey: SKIPPED, ffmpeg/ffprobe not found (${ffmpeg}, ${ffprobe}). Install Debian's ffmpeg (apt-get install ffmpeg) or set FFMPEG_PATH and FFPROBE_PATH.`,
  );
}

let ctx: TestContext;
let dir: string;
let storageDir: string;
let uploadDir: string;
/** The listening app, for requests over a real socket (as a player makes them). */
let base: string;

interface MediaDto {
  id: string;
  status: string;
  statusDetail: string;
  durationSeconds: number | null;
  width: number | null;
  height: number | null;
  hlsMasterPlaylistKey: string | null;
  thumbnailKey: string | null;
  renditions: { name: string; width: number | null; height: number | null; bandwidth: number; playlistKey: string }[];
}

const timings: Record<string, number> = {};
async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[label] = (timings[label] ?? 0) + Date.now() - t0;
  }
}

const get = (url: string, token?: string, headers: Record<string, string> = {}) => ctx.req({ method: 'GET', url, ...(token ? { token } : {}), headers });
const post = (url: string, token: string | undefined, payload: object, headers: Record<string, string> = {}) =>
  ctx.req({ method: 'POST', url, ...(token ? { token } : {}), payload, headers });
/** A signed playback URL is absolute (PUBLIC_URL); the app answers its path. */
const play = (url: string, headers: Record<string, string> = {}) => get(new URL(url).pathname, undefined, headers);
const code = (res: LightMyRequestResponse) => res.json<{ code?: string }>().code;
const storedBytes = async (key: string) => buffer(await ctx.services.storage.read(key));
const stored = (id: string) => filesUnder(storageDir).filter((f) => f.includes(id));

const reconciled = async () => {
  const r = await reconcile(ctx.services.ledgerRepo, ctx.services.payments.invariants());
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);
};
const revenue = async () => ctx.services.ledger.balance(await ctx.services.ledger.platformAccount('platform_revenue', 'USD'));

/** Every 188-byte MPEG-TS packet starts with the 0x47 sync byte. */
function expectMpegTs(bytes: Buffer) {
  expect(bytes.length).toBeGreaterThan(188);
  expect(bytes.length % 188).toBe(0);
  for (let i = 0; i < bytes.length; i += 188) if (bytes[i] !== 0x47) throw new Error(`no MPEG-TS sync byte at ${i}`);
}

/** The URIs of a playlist: its non-tag lines. */
const uris = (playlist: string) =>
  playlist
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/**
 * Creates the item, creates the tus upload (real protocol), sends the file in two PATCH chunks,
 * checking the offset in between, and runs the transcode job.
 */
async function uploadAndTranscode(user: TestUser, file: string, body: Record<string, unknown>, originalName = 'original.mp4'): Promise<MediaDto> {
  const bytes = readFileSync(file);
  const media = await createMedia(ctx, user, { expectedSizeBytes: bytes.length, ...body });
  expect(media.status).toBe('uploading');
  const created = await tusCreate(ctx, user.token, media.id, { 'upload-length': String(bytes.length) });
  expect(created.statusCode, created.body).toBe(201);
  const location = created.headers.location as string;
  expect(location).toBe(media.upload.url);

  const half = Math.floor(bytes.length / 2);
  const first = await tusPatch(ctx, user.token, location, 0, bytes.subarray(0, half));
  expect(first.statusCode, first.body).toBe(204);
  expect(first.headers['upload-offset']).toBe(String(half));
  const head = await tusHead(ctx, user.token, location);
  expect(head.statusCode).toBe(200);
  expect(head.headers['upload-offset']).toBe(String(half));
  expect(head.headers['upload-length']).toBe(String(bytes.length));
  const last = await tusPatch(ctx, user.token, location, half, bytes.subarray(half));
  expect(last.statusCode, last.body).toBe(204);
  expect(last.headers['upload-offset']).toBe(String(bytes.length));

  const uploaded = (await get(`/v1/media/${media.id}`, user.token)).json<MediaDto>();
  expect(uploaded.status, uploaded.statusDetail).toBe('uploaded');
  expect(readFileSync(path.join(storageDir, 'originals', media.id, originalName)).equals(bytes)).toBe(true);

  await timed('transcode job (drain)', () => ctx.drain());
  const res = await get(`/v1/media/${media.id}`, user.token);
  expect(res.statusCode, res.body).toBe(200);
  const item = res.json<MediaDto>();
  expect(item.status, item.statusDetail).toBe('ready');
  return item;
}

/** Buys over HTTP with the sandbox; its signed webhook is delivered to the listening app by the drain. */
async function buy(customer: TestUser, contentId: string) {
  const res = await post('/v1/purchases', customer.token, { contentId, paymentMethod: 'pm_card_visa' }, { 'idempotency-key': newId() });
  expect(res.statusCode, res.body).toBe(201);
  expect(res.json<{ purchase: { status: string } }>().purchase.status).toBe('pending');
  await ctx.drain();
  return res.json<{ purchase: { id: string }; payment: { id: string } }>();
}

describe.skipIf(!hasTools)('the creator media journey through the real pipeline', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-journey-'));
    storageDir = path.join(dir, 'storage');
    uploadDir = path.join(dir, 'uploads');
    ctx = await createTestContext({ STORAGE_DIR: storageDir, UPLOAD_DIR: uploadDir, MEDIA_RETRY_DELAY_SECONDS: '0', PLATFORM_FEE_BPS: '2000', FFMPEG_PATH: ffmpeg, FFPROBE_PATH: ffprobe });
    // The sandbox delivers its signed webhooks over real HTTP to the listening app.
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    ctx.services.sandbox!.webhookUrl = `${base}/v1/webhooks/sandbox`;
  });
  afterAll(async () => {
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`creator-journey timings (ms): ${JSON.stringify(timings)}`);
  });

  it('a creator uploads, transcodes, publishes and sells; a customer buys, plays real segments, resumes; a refund stops the next segment', async () => {
    const creator = await ctx.newUser({ role: 'creator', name: 'Ada Creator' });
    const customer = await ctx.newUser({ name: 'Cy Customer' });
    // 5 s with a key frame every 4 s: two segments per rendition, so "the next segment" exists.
    const clip = makeClip(dir, 'journey480.mp4', { width: 854, height: 480, seconds: 5 });

    // 1. Upload with tus and transcode with the real job.
    const item = await timed('upload + transcode', () => uploadAndTranscode(creator, clip, { title: 'Harbour at dawn (raw)' }));
    const id = item.id;
    expect(item).toMatchObject({ width: 854, height: 480, durationSeconds: 5, hlsMasterPlaylistKey: `hls/${id}/master.m3u8`, thumbnailKey: `thumbnails/${id}/thumb.jpg` });
    // The ladder: every rung not above the source, none above it.
    expect(item.renditions.map((r) => r.name)).toEqual(renditionsFor(480).map((r) => r.name));
    expect(item.renditions.map((r) => [r.name, r.width, r.height])).toEqual([
      ['480p', 854, 480],
      ['360p', 640, 360],
    ]);
    for (const r of item.renditions) {
      expect(r.playlistKey).toBe(`hls/${id}/${r.name}/index.m3u8`);
      expect(await ctx.services.storage.stat(r.playlistKey)).not.toBeNull();
    }
    const files = stored(id);
    expect(files).toContain(`hls/${id}/master.m3u8`);
    expect(files.some((f) => /720p|1080p/.test(f))).toBe(false);
    expect((await storedBytes(`thumbnails/${id}/thumb.jpg`)).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect((await ctx.mailTo(creator.email)).map((m) => m.subject)).toContain('Your video "Harbour at dawn (raw)" is ready');

    // 2. Content on the media item, priced, published; found in the catalog; refused before buying.
    const created = await post('/v1/content', creator.token, {
      contentType: 'video',
      mediaItemId: id,
      title: 'Harbour at dawn',
      description: 'Fishing boats leave the harbour as the sun comes up',
      category: 'travel',
      tags: ['harbour', 'timelapse'],
      priceCents: 1500,
    });
    expect(created.statusCode, created.body).toBe(201);
    const c = created.json<{ id: string; slug: string; status: string }>();
    expect(c).toMatchObject({ slug: 'harbour-at-dawn', status: 'draft' });
    expect((await get(`/v1/catalog?q=harbour&creatorId=${creator.id}`)).json<{ items: unknown[] }>().items).toEqual([]);
    const pub = await post(`/v1/content/${c.id}/publish`, creator.token, {});
    expect(pub.statusCode, pub.body).toBe(200);

    // A word of the title only (not in the description or tags).
    const found = (await get('/v1/catalog?q=dawn')).json<{ items: { id: string; title: string; priceCents: number }[] }>();
    expect(found.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: c.id, title: 'Harbour at dawn', priceCents: 1500 })]));
    const refused = await post(`/v1/content/${c.id}/playback`, customer.token, {});
    expect(refused.statusCode, refused.body).toBe(402);
    expect(code(refused)).toBe('purchase_required');
    expect((await get(`/v1/content/${c.id}/progress`, customer.token)).statusCode).toBe(402);
    // The creator may preview their own content before any sale.
    const own = await post(`/v1/content/${c.id}/playback`, creator.token, {});
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json<{ reason: string }>().reason).toBe('creator');

    // 3. The customer buys through the sandbox; the money is split in the ledger.
    const revenueBefore = await revenue();
    const { purchase } = await timed('checkout + webhook', () => buy(customer, c.id));
    const p = (await get(`/v1/purchases/${purchase.id}`, customer.token)).json<{ status: string; amountPaidCents: number; platformFeeCents: number; creatorPayoutCents: number; paymentId: string }>();
    expect(p).toMatchObject({ status: 'completed', amountPaidCents: 1500, platformFeeCents: 300, creatorPayoutCents: 1200 });
    const { rows: payments } = await ctx.database.raw.query<{ status: string; fee_amount: number }>('select status, fee_amount::int as fee_amount from payments where id = $1', [p.paymentId]);
    expect(payments[0]!.status).toBe('success');
    expect((await ctx.mailTo(customer.email)).map((m) => m.subject)).toContain('Your receipt for Harbour at dawn');
    expect((await get('/v1/wallets/USD', creator.token)).json<{ balance: number }>().balance).toBe(1200);
    // The platform keeps its fee and bears the provider's processing fee.
    expect((await revenue()) - revenueBefore).toBe(300 - payments[0]!.fee_amount);
    await reconciled();

    // 4. Playback through the signed URLs: the master, a real rendition playlist, a real segment.
    const auth = await post(`/v1/content/${c.id}/playback`, customer.token, {});
    expect(auth.statusCode, auth.body).toBe(200);
    const grant = auth.json<{ reason: string; durationSeconds: number; masterPlaylistUrl: string }>();
    expect(grant).toMatchObject({ reason: 'purchased', durationSeconds: 5 });
    expect(grant.masterPlaylistUrl).toMatch(/^http:\/\/fanfare\.test\/v1\/play\/[^/]+\/master\.m3u8$/);

    const master = await timed('playback requests', () => play(grant.masterPlaylistUrl));
    expect(master.statusCode, master.body).toBe(200);
    expect(master.headers['content-type']).toContain('mpegurl');
    expect(master.body).toMatch(/^#EXTM3U/);
    expect(master.body).toContain('RESOLUTION=854x480');
    const variantUrls = uris(master.body);
    expect(variantUrls).toHaveLength(2);
    for (const u of variantUrls) expect(u).toMatch(/^http:\/\/fanfare\.test\/v1\/play\/[^/]+\/(480p|360p)\/index\.m3u8$/);
    // No URI is left relative or pointing at storage.
    expect(master.body).not.toMatch(/^\d+p\/index\.m3u8$/m);

    const low = await play(variantUrls.find((u) => u.includes('/360p/'))!);
    expect(low.statusCode, low.body).toBe(200);
    expect(low.body).toContain('#EXT-X-ENDLIST');
    expect(low.body).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    const storedPlaylist = (await storedBytes(`hls/${id}/360p/index.m3u8`)).toString('utf8');
    const segNames = uris(storedPlaylist);
    expect(segNames).toEqual(['seg_00000.ts', 'seg_00001.ts']);
    const segUrls = uris(low.body);
    expect(segUrls).toHaveLength(segNames.length);
    segUrls.forEach((u, i) => expect(u).toMatch(new RegExp(`^http://fanfare\\.test/v1/play/[^/]+/360p/${segNames[i]}$`)));
    // Each EXTINF still describes its segment.
    expect(low.body.match(/#EXTINF:/g)).toHaveLength(segNames.length);

    const firstKey = `hls/${id}/360p/${segNames[0]}`;
    const original = await storedBytes(firstKey);
    expectMpegTs(original);
    const part = await play(segUrls[0]!, { range: 'bytes=0-1879' });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 0-1879/${original.length}`);
    expect(part.headers['content-type']).toBe('video/mp2t');
    expect(part.rawPayload.equals(original.subarray(0, 1880))).toBe(true);
    expectMpegTs(part.rawPayload);
    const tailPart = await play(segUrls[0]!, { range: `bytes=${original.length - 188}-` });
    expect(tailPart.statusCode).toBe(206);
    expect(tailPart.rawPayload.equals(original.subarray(original.length - 188))).toBe(true);
    const whole = await play(segUrls[0]!);
    expect(whole.statusCode).toBe(200);
    expect(Number(whole.headers['content-length'])).toBe(original.length);
    expect(whole.rawPayload.equals(original)).toBe(true);
    // Over a real socket, as a player fetches it: a range, and a HEAD for the size.
    const socket = await fetch(`${base}${new URL(segUrls[0]!).pathname}`, { headers: { range: 'bytes=188-375' } });
    expect(socket.status).toBe(206);
    expect(socket.headers.get('content-range')).toBe(`bytes 188-375/${original.length}`);
    expect(Buffer.from(await socket.arrayBuffer()).equals(original.subarray(188, 376))).toBe(true);
    const headed = await fetch(`${base}${new URL(segUrls[0]!).pathname}`, { method: 'HEAD' });
    expect(headed.status).toBe(200);
    expect(headed.headers.get('content-length')).toBe(String(original.length));
    expect(headed.headers.get('accept-ranges')).toBe('bytes');
    // The other rendition plays too (a player switching up).
    const high = await play(variantUrls.find((u) => u.includes('/480p/'))!);
    expect(high.statusCode).toBe(200);
    const highSeg = await play(uris(high.body)[0]!, { range: 'bytes=0-187' });
    expect(highSeg.statusCode).toBe(206);
    expect(highSeg.rawPayload[0]).toBe(0x47);

    // Progress, resume and continue watching. The duration is the media's, not the player's
    // report: a short one does not mark the video completed.
    const lying = await ctx.req({ method: 'PUT', url: `/v1/content/${c.id}/progress`, token: customer.token, payload: { positionSeconds: 1, durationSeconds: 1 } });
    expect(lying.statusCode, lying.body).toBe(200);
    expect(lying.json()).toMatchObject({ positionSeconds: 1, durationSeconds: 5, completed: false });
    const saved = await ctx.req({ method: 'PUT', url: `/v1/content/${c.id}/progress`, token: customer.token, payload: { positionSeconds: 2, durationSeconds: 5 } });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(saved.json()).toMatchObject({ positionSeconds: 2, durationSeconds: 5, completed: false });
    expect((await get(`/v1/content/${c.id}/progress`, customer.token)).json()).toMatchObject({ positionSeconds: 2, completed: false });
    const cw = (await get('/v1/me/continue-watching', customer.token)).json<{ items: { contentId: string; title: string; positionSeconds: number; reason: string }[] }>();
    expect(cw.items).toMatchObject([{ contentId: c.id, title: 'Harbour at dawn', positionSeconds: 2, reason: 'purchased' }]);

    // The creator's counters moved: one view (the creator's own preview is not one; a second
    // authorize the same day neither), one purchase.
    expect((await post(`/v1/content/${c.id}/playback`, customer.token, {})).statusCode).toBe(200);
    const mine = (await get(`/v1/content/${c.id}`, creator.token)).json<{ viewCount: number; purchaseCount: number }>();
    expect(mine).toMatchObject({ viewCount: 1, purchaseCount: 1 });
    const { rows: views } = await ctx.database.raw.query<{ n: number }>('select count(*)::int as n from content_views where content_id = $1 and user_id = $2', [c.id, customer.id]);
    expect(views[0]!.n).toBe(1);

    // 5. The creator refunds: the next segment is refused, the customer is told.
    const refund = await post(`/v1/purchases/${purchase.id}/refund`, creator.token, { reason: 'Requested by the customer' }, { 'idempotency-key': newId() });
    expect(refund.statusCode, refund.body).toBe(200);
    await ctx.drain();
    expect((await get(`/v1/purchases/${purchase.id}`, customer.token)).json()).toMatchObject({ status: 'refunded' });
    const next = await play(segUrls[1]!, { range: 'bytes=0-187' });
    expect(next.statusCode, next.body).toBe(403);
    expect(code(next)).toBe('access_revoked');
    expect((await play(grant.masterPlaylistUrl)).statusCode).toBe(403);
    expect(code(await post(`/v1/content/${c.id}/playback`, customer.token, {}))).toBe('purchase_required');
    expect((await get('/v1/me/continue-watching', customer.token)).json<{ items: unknown[] }>().items).toEqual([]);
    expect((await ctx.mailTo(customer.email)).map((m) => m.subject)).toContain('Your refund for Harbour at dawn');
    expect((await get('/v1/wallets/USD', creator.token)).json<{ balance: number }>().balance).toBe(0);
    expect((await get(`/v1/content/${c.id}`, creator.token)).json<{ purchaseCount: number }>().purchaseCount).toBe(0);
    await reconciled();

    // The media item stays while the content plays it (others may still buy it); then both go.
    const inUse = await ctx.req({ method: 'DELETE', url: `/v1/media/${id}`, token: creator.token });
    expect(inUse.statusCode, inUse.body).toBe(409);
    expect(code(inUse)).toBe('media_in_use');
    expect((await get(`/v1/media/${id}`, creator.token)).json<MediaDto>().status).toBe('ready');
    expect((await ctx.req({ method: 'DELETE', url: `/v1/content/${c.id}`, token: creator.token })).statusCode).toBe(204);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/media/${id}`, token: creator.token })).statusCode).toBe(204);
    expect(stored(id)).toEqual([]);
  });

  it('an organization’s creator member uploads and sells for it: the organization is paid, its members play', async () => {
    const owner = await ctx.newUser({ role: 'creator' });
    const org = await ctx.newOrg(owner);
    // A member with the organization's creator role; on the platform a plain customer.
    const member = await ctx.newUser();
    await ctx.addMember(owner, org.id, member, 'creator');
    const customer = await ctx.newUser();
    // Exactly 360 lines: one rung, at the source's height.
    const clip = makeClip(dir, 'journey360.mp4', { width: 640, height: 360, seconds: 2 });

    const item = await timed('upload + transcode', () => uploadAndTranscode(member, clip, { title: 'Studio tour', organizationId: org.id }));
    expect(item.renditions.map((r) => [r.name, r.width, r.height])).toEqual([['360p', 640, 360]]);

    const created = await post('/v1/content', member.token, { organizationId: org.id, contentType: 'video', mediaItemId: item.id, title: 'Studio tour', priceCents: 1000 });
    expect(created.statusCode, created.body).toBe(201);
    const c = created.json<{ id: string }>();
    expect((await post(`/v1/content/${c.id}/publish`, member.token, {})).statusCode).toBe(200);
    expect(code(await post(`/v1/content/${c.id}/playback`, customer.token, {}))).toBe('purchase_required');

    // The owner plays it as a member of the organization, before any sale.
    const asOwner = await post(`/v1/content/${c.id}/playback`, owner.token, {});
    expect(asOwner.statusCode, asOwner.body).toBe(200);
    expect(asOwner.json<{ reason: string }>().reason).toBe('member');

    const revenueBefore = await revenue();
    const { purchase } = await buy(customer, c.id);
    expect((await get(`/v1/purchases/${purchase.id}`, customer.token)).json()).toMatchObject({ status: 'completed', organizationId: org.id, platformFeeCents: 200, creatorPayoutCents: 800 });
    expect((await get(`/v1/orgs/${org.id}/wallets/USD`, owner.token)).json<{ balance: number }>().balance).toBe(800);
    expect((await revenue()) - revenueBefore).toBeLessThanOrEqual(200);
    await reconciled();

    const grant = (await post(`/v1/content/${c.id}/playback`, customer.token, {})).json<{ masterPlaylistUrl: string }>();
    const master = await play(grant.masterPlaylistUrl);
    expect(master.statusCode).toBe(200);
    const rendition = await play(uris(master.body)[0]!);
    expect(rendition.statusCode).toBe(200);
    const segKey = `hls/${item.id}/360p/${uris((await storedBytes(`hls/${item.id}/360p/index.m3u8`)).toString('utf8'))[0]}`;
    const seg = await play(uris(rendition.body)[0]!, { range: 'bytes=188-375' });
    expect(seg.statusCode).toBe(206);
    expect(seg.rawPayload.equals((await storedBytes(segKey)).subarray(188, 376))).toBe(true);
  });

  it('audio: a free episode transcodes to one audio rendition and plays for anyone signed in', async () => {
    const creator = await ctx.newUser({ role: 'creator' });
    const listener = await ctx.newUser();
    const clip = makeClip(dir, 'journey.mp3', { audioOnly: true, seconds: 2 });
    const item = await timed('upload + transcode', () => uploadAndTranscode(creator, clip, { title: 'Episode one', mediaType: 'audio', mimeType: 'audio/mpeg' }, 'original.mp3'));
    expect(item).toMatchObject({ thumbnailKey: null, width: null, height: null, durationSeconds: 2 });
    expect(item.renditions.map((r) => [r.name, r.playlistKey])).toEqual([['audio', `hls/${item.id}/audio/index.m3u8`]]);

    const created = await post('/v1/content', creator.token, { contentType: 'audio', mediaItemId: item.id, title: 'Episode one', visibility: 'public' });
    expect(created.statusCode, created.body).toBe(201);
    const c = created.json<{ id: string }>();
    expect((await post(`/v1/content/${c.id}/publish`, creator.token, {})).statusCode).toBe(200);
    const auth = await post(`/v1/content/${c.id}/playback`, listener.token, {});
    expect(auth.statusCode, auth.body).toBe(200);
    const grant = auth.json<{ reason: string; contentType: string; masterPlaylistUrl: string }>();
    expect(grant).toMatchObject({ reason: 'free', contentType: 'audio' });
    const master = await play(grant.masterPlaylistUrl);
    expect(master.statusCode, master.body).toBe(200);
    const [renditionUrl] = uris(master.body);
    expect(renditionUrl).toMatch(/\/audio\/index\.m3u8$/);
    const rendition = await play(renditionUrl!);
    expect(rendition.statusCode, rendition.body).toBe(200);
    const segs = uris(rendition.body);
    expect(segs.length).toBeGreaterThan(0);
    const seg = await play(segs[0]!);
    expect(seg.statusCode).toBe(200);
    expect(seg.rawPayload.equals(await storedBytes(`hls/${item.id}/audio/${uris((await storedBytes(`hls/${item.id}/audio/index.m3u8`)).toString('utf8'))[0]}`))).toBe(true);
    expectMpegTs(seg.rawPayload);
  });

  it('ffmpeg’s fMP4 playlists (EXT-X-MAP, single file with EXT-X-BYTERANGE) are signed and served by range', async () => {
    // The ladder writes MPEG-TS; a store may hold fMP4 renditions (an import, a future ladder):
    // ffmpeg's own fMP4 output, repackaged without re-encoding, must play through the same URLs.
    const creator = await ctx.newUser({ role: 'creator' });
    const viewer = await ctx.newUser();
    const clip = makeClip(dir, 'journey-fmp4-src.mp4', { width: 320, height: 240, seconds: 2 });
    const out = path.join(dir, 'fmp4');
    mkdirSync(path.join(out, 'single'), { recursive: true });
    mkdirSync(path.join(out, 'split'), { recursive: true });
    const hls = ['-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4'];
    execFileSync(ffmpeg, ['-nostdin', '-loglevel', 'error', '-y', '-i', clip, '-c', 'copy', ...hls, '-hls_flags', 'single_file', path.join(out, 'single', 'index.m3u8')]);
    execFileSync(ffmpeg, ['-nostdin', '-loglevel', 'error', '-y', '-i', clip, '-c', 'copy', ...hls, '-hls_fmp4_init_filename', 'init.mp4', path.join(out, 'split', 'index.m3u8')]);
    const id = newId();
    const prefix = `hls/${id}`;
    for (const f of filesUnder(out)) await ctx.services.storage.putFile(`${prefix}/${f}`, path.join(out, ...f.split('/')));
    await ctx.services.storage.put(`${prefix}/master.m3u8`, Buffer.from('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x240\nsingle/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=320x240\nsplit/index.m3u8\n'));
    await ctx.database.raw.query(
      `insert into media_items (id, creator_id, title, media_type, status, r2_key, duration_seconds, hls_master_playlist_key, uploaded_at, transcoded_at)
       values ($1, $2, 'fmp4', 'video', 'ready', $3, 2, $4, now(), now())`,
      [id, creator.id, `originals/${id}/original.mp4`, `${prefix}/master.m3u8`],
    );
    const c = (await post('/v1/content', creator.token, { contentType: 'video', mediaItemId: id, title: 'Fragmented', visibility: 'public' })).json<{ id: string }>();
    expect((await post(`/v1/content/${c.id}/publish`, creator.token, {})).statusCode).toBe(200);
    const grant = (await post(`/v1/content/${c.id}/playback`, viewer.token, {})).json<{ masterPlaylistUrl: string }>();
    const [singleUrl, splitUrl] = uris((await play(grant.masterPlaylistUrl)).body);

    // Single file: the map and every segment are byte ranges of one .m4s.
    const single = await play(singleUrl!);
    expect(single.statusCode, single.body).toBe(200);
    const map = /#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"/.exec(single.body);
    expect(map, single.body).not.toBeNull();
    expect(map![1]).toMatch(/^http:\/\/fanfare\.test\/v1\/play\/[^/]+\/single\/index\.m4s$/);
    const whole = await storedBytes(`${prefix}/single/index.m4s`);
    const [len, off] = [Number(map![2]), Number(map![3])];
    const init = await play(map![1]!, { range: `bytes=${off}-${off + len - 1}` });
    expect(init.statusCode).toBe(206);
    expect(init.rawPayload.equals(whole.subarray(off, off + len))).toBe(true);
    expect(init.rawPayload.toString('latin1', 4, 8)).toBe('ftyp');
    const lines = single.body.split('\n');
    const ranges = lines.filter((l) => l.startsWith('#EXT-X-BYTERANGE:'));
    expect(ranges.length).toBe(lines.filter((l) => l.startsWith('#EXTINF:')).length);
    expect(uris(single.body).every((u) => u === map![1])).toBe(true);
    const [segLen, segOff] = ranges[0]!.slice('#EXT-X-BYTERANGE:'.length).split('@').map(Number) as [number, number];
    const frag = await play(uris(single.body)[0]!, { range: `bytes=${segOff}-${segOff + segLen - 1}` });
    expect(frag.statusCode).toBe(206);
    expect(frag.rawPayload.equals(whole.subarray(segOff, segOff + segLen))).toBe(true);
    expect(['moof', 'styp', 'sidx']).toContain(frag.rawPayload.toString('latin1', 4, 8));

    // A URI leaving the media's folder is dropped with both of its tags, leaving a valid playlist.
    const stored1 = (await storedBytes(`${prefix}/single/index.m3u8`)).toString('utf8');
    const tampered = stored1.replace('#EXT-X-ENDLIST', '#EXTINF:1.000000,\n#EXT-X-BYTERANGE:10@0\n../../../other/secret.m4s\n#EXT-X-ENDLIST');
    const rewritten = await ctx.services.playback.rewrite(tampered, `${prefix}/single/index.m3u8`, { contentId: c.id, mediaId: id, userId: viewer.id, prefix: `${prefix}/` }, 2);
    expect(rewritten).not.toContain('secret');
    expect(rewritten.split('\n').filter((l) => l.startsWith('#EXTINF:')).length).toBe(uris(rewritten).length);
    expect(rewritten.split('\n').filter((l) => l.startsWith('#EXT-X-BYTERANGE:')).length).toBe(uris(rewritten).length);

    // Separate files: EXT-X-MAP names init.mp4, the segments .m4s files beside it.
    const split = await play(splitUrl!);
    expect(split.statusCode, split.body).toBe(200);
    const initUrl = /#EXT-X-MAP:URI="([^"]+)"/.exec(split.body)![1]!;
    expect(initUrl).toMatch(/\/split\/init\.mp4$/);
    const splitInit = await play(initUrl);
    expect(splitInit.statusCode).toBe(200);
    expect(splitInit.rawPayload.equals(await storedBytes(`${prefix}/split/init.mp4`))).toBe(true);
    const segs = uris(split.body);
    expect(segs.length).toBeGreaterThan(0);
    for (const u of segs) expect(u).toMatch(/\/split\/index\d+\.m4s$/);
    const seg = await play(segs.at(-1)!, { range: 'bytes=0-7' });
    expect(seg.statusCode).toBe(206);
    expect(seg.headers['content-type']).toBe('video/iso.segment');
  });
});
