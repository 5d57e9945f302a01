import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type LightMyRequestResponse, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { createMedia, filesUnder, makeClip, tusCreate, tusHead, tusPatch, uploadFile, TUS, b64 } from '../../../test/media-fixtures.ts';
import { renditionsFor } from './media.ffmpeg.ts';

let ctx: TestContext;
let dir: string;
let storageDir: string;
let uploadDir: string;
let creator: TestUser;
let otherCreator: TestUser;
let customer: TestUser;
let clip: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-media-'));
  storageDir = path.join(dir, 'storage');
  uploadDir = path.join(dir, 'uploads');
  ctx = await createTestContext({ STORAGE_DIR: storageDir, UPLOAD_DIR: uploadDir, MEDIA_RETRY_DELAY_SECONDS: '0' });
  [creator, otherCreator, customer] = await Promise.all([ctx.newUser({ role: 'creator' }), ctx.newUser({ role: 'creator' }), ctx.newUser()]);
  clip = makeClip(dir, 'clip480.mp4', { width: 854, height: 480, seconds: 2 });
});
afterAll(async () => {
  await ctx?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface MediaDto {
  id: string;
  status: string;
  statusDetail: string;
  failureReason: string | null;
  storageKey: string;
  fileSizeBytes: number | null;
  mimeType: string | null;
  durationSeconds: number | null;
  width: number | null;
  height: number | null;
  hlsMasterPlaylistKey: string | null;
  thumbnailKey: string | null;
  renditions: { name: string; width: number | null; height: number | null; bandwidth: number; playlistKey: string }[];
  transcodeAttempts: number;
  uploadedAt: string | null;
  title: string;
  description: string | null;
  organizationId: string | null;
}

const getMedia = async (user: TestUser, id: string) => {
  const res = await ctx.req({ method: 'GET', url: `/v1/media/${id}`, token: user.token });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<MediaDto>();
};
const stored = (id: string) => filesUnder(storageDir).filter((f) => f.includes(id));
const pending = (id: string) => filesUnder(uploadDir).filter((f) => f.includes(id));
const errorPaths = (res: LightMyRequestResponse) => (res.json<{ errors?: { path: string }[] }>().errors ?? []).map((e) => e.path);
const readStored = async (key: string) => text(await ctx.services.storage.read(key));

/** A PATCH over a real socket that is cut after `sendBytes` of the chunk's bytes. */
function interruptedPatch(port: number, url: string, token: string, chunk: Buffer, sendBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PATCH',
      path: new URL(url).pathname,
      headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(chunk.length) },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(chunk.subarray(0, sendBytes), () => {
      // Let the server write what it got, then drop the connection mid-body.
      setTimeout(() => req.destroy(), 300);
    });
  });
}

async function over(port: number, method: string, url: string, token: string, headers: Record<string, string>, body?: Buffer) {
  const res = await fetch(`http://127.0.0.1:${port}${new URL(url, 'http://x').pathname}`, { method, headers: { ...TUS, authorization: `Bearer ${token}`, ...headers }, ...(body ? { body } : {}) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('upload (tus) and transcode of a video', () => {
  let id: string;
  let transcodeMs = 0;

  it('creates the item, uploads it in chunks over a real socket, resumes after a cut chunk, and stores the original', async () => {
    const bytes = readFileSync(clip);
    const created = await createMedia(ctx, creator, { title: 'My first clip', description: 'lavfi test pattern', expectedSizeBytes: bytes.length });
    id = created.id;
    expect(created.status).toBe('uploading');
    expect(created.upload).toEqual({ endpoint: 'http://fanfare.test/v1/media/uploads', url: `http://fanfare.test/v1/media/uploads/${id}`, metadata: { mediaId: id }, uploadLength: bytes.length });

    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (ctx.app.server.address() as AddressInfo).port;

    const options = await fetch(`http://127.0.0.1:${port}/v1/media/uploads`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('tus-extension')).toContain('creation');

    const create = await over(port, 'POST', '/v1/media/uploads', creator.token, { 'upload-length': String(bytes.length), 'upload-metadata': `mediaId ${b64(id)},filename ${b64('clip.mp4')}` });
    expect(create.status, create.body).toBe(201);
    const location = create.headers.get('location')!;
    expect(location).toBe(`http://fanfare.test/v1/media/uploads/${id}`);

    // The first chunk is cut off part-way; the server keeps what arrived.
    await interruptedPatch(port, location, creator.token, bytes.subarray(0, 40_000), 20_000);
    let head = await over(port, 'HEAD', location, creator.token, {});
    for (let i = 0; i < 20 && head.status === 423; i++) head = await over(port, 'HEAD', location, creator.token, {});
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-length')).toBe(String(bytes.length));
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(20_000);

    // Resume from the offset the server reported, in two more chunks.
    const mid = Math.min(bytes.length - 1, offset + 30_000);
    const second = await over(port, 'PATCH', location, creator.token, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, bytes.subarray(offset, mid));
    expect(second.status, second.body).toBe(204);
    expect(second.headers.get('upload-offset')).toBe(String(mid));
    // A chunk at the wrong offset is refused by tus (409) and changes nothing.
    const wrong = await over(port, 'PATCH', location, creator.token, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, bytes.subarray(0, 10));
    expect(wrong.status).toBe(409);
    const last = await over(port, 'PATCH', location, creator.token, { 'upload-offset': String(mid), 'content-type': 'application/offset+octet-stream' }, bytes.subarray(mid));
    expect(last.status, last.body).toBe(204);

    const item = await getMedia(creator, id);
    expect(item).toMatchObject({ status: 'uploaded', fileSizeBytes: bytes.length, mimeType: 'video/mp4', storageKey: `originals/${id}/original.mp4`, width: 854, height: 480, durationSeconds: 2 });
    expect(item.uploadedAt).not.toBeNull();
    expect(readFileSync(path.join(storageDir, 'originals', id, 'original.mp4')).equals(bytes)).toBe(true);
    expect(pending(id)).toEqual([]);
  });

  it('transcodes to the renditions not above the source (480p, 360p), a master playlist and a thumbnail, and notifies the creator', async () => {
    const started = Date.now();
    await ctx.drain();
    transcodeMs = Date.now() - started;
    const item = await getMedia(creator, id);
    expect(item.status, item.statusDetail).toBe('ready');
    expect(item).toMatchObject({ hlsMasterPlaylistKey: `hls/${id}/master.m3u8`, thumbnailKey: `thumbnails/${id}/thumb.jpg`, transcodeAttempts: 1, failureReason: null });
    expect(item.renditions.map((r) => [r.name, r.width, r.height])).toEqual([
      ['480p', 854, 480],
      ['360p', 640, 360],
    ]);

    const files = stored(id);
    expect(files).toContain(`hls/${id}/master.m3u8`);
    expect(files).toContain(`hls/${id}/480p/index.m3u8`);
    expect(files).toContain(`hls/${id}/360p/index.m3u8`);
    expect(files.filter((f) => /\/480p\/seg_\d{5}\.ts$/.test(f)).length).toBeGreaterThan(0);
    expect(files.filter((f) => /\/360p\/seg_\d{5}\.ts$/.test(f)).length).toBeGreaterThan(0);
    expect(files.some((f) => f.includes('720p') || f.includes('1080p'))).toBe(false);

    const master = await readStored(`hls/${id}/master.m3u8`);
    expect(master).toMatch(/^#EXTM3U/);
    expect(master).toMatch(/#EXT-X-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=854x480,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"\n480p\/index\.m3u8/);
    expect(master).toMatch(/#EXT-X-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=640x360,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"\n360p\/index\.m3u8/);
    const playlist = await readStored(`hls/${id}/480p/index.m3u8`);
    expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(playlist).toContain('#EXT-X-ENDLIST');
    for (const seg of playlist.split('\n').filter((l) => l.endsWith('.ts'))) expect(await ctx.services.storage.stat(`hls/${id}/480p/${seg}`)).not.toBeNull();
    const thumb = readFileSync(path.join(storageDir, 'thumbnails', id, 'thumb.jpg'));
    expect(thumb.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
    expect(await ctx.services.storage.stat(`hls/${id}/480p/seg_00000.ts`)).toMatchObject({ contentType: 'video/mp2t' });

    const { rows } = await ctx.database.raw.query<{ type: string; title: string }>('select type, title from notifications where user_id = $1', [creator.id]);
    expect(rows).toEqual([{ type: 'transcoding_ready', title: 'Your video "My first clip" is ready' }]);
    expect((await ctx.mailTo(creator.email)).map((m) => m.subject)).toContain('Your video "My first clip" is ready');
    console.log(`transcode of a 2 s 854x480 clip to 480p+360p HLS and a thumbnail: ${transcodeMs} ms (job included)`);
    // The temporary working directory is gone.
    expect(readdirSync(os.tmpdir()).filter((d) => d.startsWith(`fanfare-transcode-${id}`))).toEqual([]);
  });

  it('exposes what the content module needs through the repository and storage', async () => {
    const { createMediaRepository } = await import('./index.ts');
    const row = await createMediaRepository(ctx.services.db).get(id);
    expect(row).toMatchObject({ id, status: 'ready', creatorId: creator.id, organizationId: null, durationSeconds: 2, hlsMasterPlaylistKey: `hls/${id}/master.m3u8` });
    expect(await text(await ctx.services.storage.read(`hls/${id}/master.m3u8`, { start: 0, end: 6 }))).toBe('#EXTM3U');
  });

  it('refuses a second upload of the same item and a HEAD once it is over', async () => {
    const again = await tusCreate(ctx, creator.token, id, { 'upload-length': '10' });
    expect(again.statusCode).toBe(409);
    const head = await tusHead(ctx, creator.token, `/v1/media/uploads/${id}`);
    expect(head.statusCode).toBe(410);
  });

  it('deletes the item and every stored object of it', async () => {
    expect(stored(id).length).toBeGreaterThan(4);
    const res = await ctx.req({ method: 'DELETE', url: `/v1/media/${id}`, token: creator.token });
    expect(res.statusCode).toBe(204);
    expect(stored(id)).toEqual([]);
    expect((await ctx.req({ method: 'GET', url: `/v1/media/${id}`, token: creator.token })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/media/${id}`, token: creator.token })).statusCode).toBe(404);
  });
});

describe('the ladder rule', () => {
  it('picks the renditions not above the source height, or one at the source size below 360', () => {
    expect(renditionsFor(2160).map((r) => r.name)).toEqual(['1080p', '720p', '480p', '360p']);
    expect(renditionsFor(1080).map((r) => r.name)).toEqual(['1080p', '720p', '480p', '360p']);
    expect(renditionsFor(720).map((r) => r.name)).toEqual(['720p', '480p', '360p']);
    expect(renditionsFor(540).map((r) => r.name)).toEqual(['480p', '360p']);
    expect(renditionsFor(360).map((r) => r.name)).toEqual(['360p']);
    expect(renditionsFor(241).map((r) => r.name)).toEqual(['240p']);
  });

  it('transcodes a 720p source to 720p, 480p and 360p (no 1080p)', async () => {
    const file = makeClip(dir, 'clip720.mp4', { width: 1280, height: 720, seconds: 1 });
    const { media, finish } = await uploadFile(ctx, creator, file);
    expect(finish.statusCode, finish.body).toBe(204);
    // ffmpeg runs in child processes: the server keeps answering while it works.
    let done = false;
    const drained = ctx.drain().finally(() => {
      done = true;
    });
    const latencies: number[] = [];
    while (!done) {
      const t0 = performance.now();
      expect((await ctx.req({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    await drained;
    expect(latencies.length).toBeGreaterThan(3);
    expect(Math.max(...latencies)).toBeLessThan(1000);
    const item = await getMedia(creator, media.id);
    expect(item.status, item.statusDetail).toBe('ready');
    expect(item.renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual(['720p:1280x720', '480p:854x480', '360p:640x360']);
    expect(stored(media.id).some((f) => f.includes('1080p'))).toBe(false);
    const master = await readStored(`hls/${media.id}/master.m3u8`);
    expect(master.match(/#EXT-X-STREAM-INF/g)).toHaveLength(3);
  });

  it('transcodes a source smaller than 360p to one rendition at its own size, and a video without sound', async () => {
    const file = makeClip(dir, 'tiny.mp4', { width: 192, height: 108, seconds: 1, noAudio: true });
    const { media, finish } = await uploadFile(ctx, creator, file);
    expect(finish.statusCode, finish.body).toBe(204);
    await ctx.drain();
    const item = await getMedia(creator, media.id);
    expect(item.status, item.statusDetail).toBe('ready');
    expect(item.renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual(['108p:192x108']);
    expect(await readStored(`hls/${media.id}/master.m3u8`)).toMatch(/RESOLUTION=192x108,CODECS="avc1\.[0-9a-f]{6}"/);
  });
});

describe('audio', () => {
  it('stores an audio upload and transcodes it to one AAC HLS rendition with a master playlist', async () => {
    const file = makeClip(dir, 'tone.mp3', { audioOnly: true, seconds: 2 });
    const { media, finish } = await uploadFile(ctx, creator, file, { title: 'A tone', mediaType: 'audio', mimeType: 'audio/mpeg' });
    expect(finish.statusCode, finish.body).toBe(204);
    expect(await getMedia(creator, media.id)).toMatchObject({ status: 'uploaded', mimeType: 'audio/mpeg', storageKey: `originals/${media.id}/original.mp3`, width: null, height: null });
    await ctx.drain();
    const item = await getMedia(creator, media.id);
    expect(item).toMatchObject({ status: 'ready', hlsMasterPlaylistKey: `hls/${media.id}/master.m3u8`, thumbnailKey: null, durationSeconds: 2 });
    expect(item.renditions.map((r) => r.name)).toEqual(['audio']);
    expect(await readStored(`hls/${media.id}/master.m3u8`)).toMatch(/#EXT-X-STREAM-INF:BANDWIDTH=\d+,CODECS="mp4a\.40\.2"\naudio\/index\.m3u8/);
    expect(stored(media.id).filter((f) => /\/audio\/seg_\d{5}\.ts$/.test(f)).length).toBeGreaterThan(0);
    expect(stored(media.id).some((f) => f.startsWith('thumbnails/'))).toBe(false);
  });

  it('refuses a video uploaded as an audio item', async () => {
    const file = makeClip(dir, 'clip-small.mp4', { width: 160, height: 120, seconds: 1 });
    const { media, finish } = await uploadFile(ctx, creator, file, { mediaType: 'audio', mimeType: 'audio/mp4' });
    expect(finish.statusCode).toBe(422);
    expect(finish.body).toContain('video stream');
    expect(await getMedia(creator, media.id)).toMatchObject({ status: 'failed' });
    expect(stored(media.id)).toEqual([]);
  });
});

describe('bad uploads fail cleanly', () => {
  const expectFailedCleanly = async (id: string, reason: RegExp) => {
    const item = await getMedia(creator, id);
    expect(item.status).toBe('failed');
    expect(item.failureReason).toMatch(reason);
    expect(item.statusDetail).toMatch(reason);
    expect(stored(id)).toEqual([]);
    expect(pending(id)).toEqual([]);
    await ctx.drain();
    expect((await getMedia(creator, id)).status).toBe('failed');
  };

  it('a text file named .mp4', async () => {
    const file = path.join(dir, 'notes.mp4');
    writeFileSync(file, 'These are my notes, not a video at all.\n'.repeat(10));
    const { media, finish } = await uploadFile(ctx, creator, file);
    expect(finish.statusCode).toBe(422);
    expect(finish.body).toMatch(/not a valid MP4 or MOV video/);
    await expectFailedCleanly(media.id, /not a valid MP4 or MOV video/);
  });

  it('a truncated MP4 (its index first, so a probe alone would accept it)', async () => {
    const whole = readFileSync(makeClip(dir, 'faststart.mp4', { width: 320, height: 240, seconds: 2, faststart: true }));
    const file = path.join(dir, 'truncated.mp4');
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const { media, finish } = await uploadFile(ctx, creator, file);
    expect(finish.statusCode).toBe(422);
    await expectFailedCleanly(media.id, /cut short/);
  });

  it('a truncated MP4 whose index was at the end', async () => {
    const whole = readFileSync(clip);
    const file = path.join(dir, 'truncated-end.mp4');
    writeFileSync(file, whole.subarray(0, whole.length - 3000));
    const { media, finish } = await uploadFile(ctx, creator, file);
    expect(finish.statusCode).toBe(422);
    await expectFailedCleanly(media.id, /cut short|no index/);
  });

  it('a file whose real size differs from the declared one (deferred length)', async () => {
    const bytes = readFileSync(clip);
    const media = await createMedia(ctx, creator, { expectedSizeBytes: bytes.length + 1000 });
    const created = await tusCreate(ctx, creator.token, media.id, { 'upload-defer-length': '1' });
    expect(created.statusCode, created.body).toBe(201);
    const finish = await tusPatch(ctx, creator.token, created.headers.location as string, 0, bytes, { 'upload-length': String(bytes.length) });
    expect(finish.statusCode).toBe(422);
    await expectFailedCleanly(media.id, new RegExp(`the file is ${bytes.length} bytes but ${bytes.length + 1000} were declared`));
  });

  it('an Upload-Length other than the declared size, refused before any byte (422)', async () => {
    const media = await createMedia(ctx, creator, { expectedSizeBytes: 1000 });
    const res = await tusCreate(ctx, creator.token, media.id, { 'upload-length': '999' });
    expect(res.statusCode).toBe(422);
    expect(errorPaths(res)).toEqual(['headers.upload-length']);
    expect(pending(media.id)).toEqual([]);
    expect((await getMedia(creator, media.id)).status).toBe('uploading');
  });

  it('more bytes than declared are refused by tus (413)', async () => {
    const media = await createMedia(ctx, creator, { expectedSizeBytes: 100 });
    const created = await tusCreate(ctx, creator.token, media.id, { 'upload-defer-length': '1' });
    expect(created.statusCode).toBe(201);
    const res = await tusPatch(ctx, creator.token, created.headers.location as string, 0, Buffer.alloc(200), { 'upload-length': '200' });
    expect(res.statusCode).toBe(413);
    expect(stored(media.id)).toEqual([]);
  });

  it('declared sizes over the limits, and types not accepted, are refused before upload (422)', async () => {
    const big = await ctx.req({ method: 'POST', url: '/v1/media', token: creator.token, payload: { title: 'x', mediaType: 'video', mimeType: 'video/mp4', expectedSizeBytes: 5 * 1024 ** 3 + 1 } });
    expect(big.statusCode).toBe(422);
    expect(errorPaths(big)).toEqual(['body.expectedSizeBytes']);
    expect(big.json<{ code: string }>().code).toBe('too_large');
    const bigAudio = await ctx.req({ method: 'POST', url: '/v1/media', token: creator.token, payload: { title: 'x', mediaType: 'audio', mimeType: 'audio/mpeg', expectedSizeBytes: 500 * 1024 ** 2 + 1 } });
    expect(bigAudio.statusCode).toBe(422);
    const okVideo = await ctx.req({ method: 'POST', url: '/v1/media', token: creator.token, payload: { title: 'x', mediaType: 'video', mimeType: 'video/quicktime', expectedSizeBytes: 5 * 1024 ** 3 } });
    expect(okVideo.statusCode).toBe(201);
    const wrongType = await ctx.req({ method: 'POST', url: '/v1/media', token: creator.token, payload: { title: 'x', mediaType: 'video', mimeType: 'audio/mpeg', expectedSizeBytes: 10 } });
    expect(wrongType.statusCode).toBe(422);
    expect(errorPaths(wrongType)).toEqual(['body.mimeType']);
  });
});

describe('who may do what', () => {
  let itemId: string;
  let orgId: string;
  let orgItemId: string;
  let manager: TestUser;
  let client: TestUser;
  let member: TestUser;

  beforeAll(async () => {
    itemId = (await createMedia(ctx, creator, { expectedSizeBytes: 1000, title: 'Mine' })).id;
    const owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner, { type: 'agency' })).id;
    manager = await ctx.newUser();
    client = await ctx.newUser();
    member = await ctx.newUser();
    await ctx.addMember(owner, orgId, manager, 'manager');
    await ctx.addMember(owner, orgId, member, 'creator');
    const account = await ctx.req({ method: 'POST', url: `/v1/orgs/${orgId}/clients`, token: owner.token, payload: { name: 'A client' } });
    await ctx.addMember(owner, orgId, client, 'client', { clientAccountId: account.json<{ id: string }>().id });
    // A plain customer who is a creator member of an organization uploads for it.
    orgItemId = (await createMedia(ctx, member, { expectedSizeBytes: 1000, title: 'For the org', organizationId: orgId })).id;
  });

  it('answers 401 without a session, on the API and on the tus endpoints', async () => {
    expect((await ctx.req({ method: 'POST', url: '/v1/media', payload: { title: 'x', mediaType: 'video', mimeType: 'video/mp4', expectedSizeBytes: 10 } })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'GET', url: '/v1/media' })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'GET', url: `/v1/media/${itemId}` })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'PATCH', url: `/v1/media/${itemId}`, payload: { title: 'y' } })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/media/${itemId}` })).statusCode).toBe(401);
    expect((await tusCreate(ctx, undefined, itemId, { 'upload-length': '1000' })).statusCode).toBe(401);
    expect((await tusHead(ctx, undefined, `/v1/media/uploads/${itemId}`)).statusCode).toBe(401);
    expect((await tusPatch(ctx, undefined, `/v1/media/uploads/${itemId}`, 0, Buffer.alloc(10))).statusCode).toBe(401);
  });

  it('a customer without an organization cannot create media (403)', async () => {
    const res = await ctx.req({ method: 'POST', url: '/v1/media', token: customer.token, payload: { title: 'x', mediaType: 'video', mimeType: 'video/mp4', expectedSizeBytes: 10 } });
    expect(res.statusCode).toBe(403);
  });

  it('another creator cannot see, list, change, delete or upload to an item (404)', async () => {
    const t = otherCreator.token;
    expect((await ctx.req({ method: 'GET', url: `/v1/media/${itemId}`, token: t })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'PATCH', url: `/v1/media/${itemId}`, token: t, payload: { title: 'mine now' } })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/media/${itemId}`, token: t })).statusCode).toBe(404);
    expect((await tusCreate(ctx, t, itemId, { 'upload-length': '1000' })).statusCode).toBe(404);
    const list = await ctx.req({ method: 'GET', url: '/v1/media', token: t });
    expect(list.json<{ items: { id: string }[] }>().items.map((i) => i.id)).not.toContain(itemId);
    // The owner starts the upload; the other creator still cannot touch it.
    expect((await tusCreate(ctx, creator.token, itemId, { 'upload-length': '1000' })).statusCode).toBe(201);
    expect((await tusHead(ctx, t, `/v1/media/uploads/${itemId}`)).statusCode).toBe(404);
    expect((await tusPatch(ctx, t, `/v1/media/uploads/${itemId}`, 0, Buffer.alloc(10))).statusCode).toBe(404);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/media/uploads/${itemId}`, token: t, headers: TUS })).statusCode).toBe(404);
    const head = await tusHead(ctx, creator.token, `/v1/media/uploads/${itemId}`);
    expect(head.statusCode).toBe(200);
    expect(head.headers['upload-offset']).toBe('0');
    expect((await getMedia(creator, itemId)).title).toBe('Mine');
  });

  it('the owner may terminate an upload in progress and create it again', async () => {
    const del = await ctx.req({ method: 'DELETE', url: `/v1/media/uploads/${itemId}`, token: creator.token, headers: TUS });
    expect(del.statusCode).toBe(204);
    expect(pending(itemId)).toEqual([]);
    const created = await tusCreate(ctx, creator.token, itemId, { 'upload-length': '1000' });
    expect(created.statusCode).toBe(201);
    expect(created.headers['upload-expires']).toBeDefined();
  });

  it('purges unfinished uploads past their expiry; the creator may then start again', async () => {
    const info = path.join(uploadDir, `${itemId}.json`);
    const upload = JSON.parse(readFileSync(info, 'utf8')) as { creation_date: string };
    upload.creation_date = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
    writeFileSync(info, JSON.stringify(upload));
    expect(await ctx.services.uploads.purgeExpired()).toBe(1);
    expect(pending(itemId)).toEqual([]);
    expect((await tusHead(ctx, creator.token, `/v1/media/uploads/${itemId}`)).statusCode).toBe(404);
    expect((await tusCreate(ctx, creator.token, itemId, { 'upload-length': '1000' })).statusCode).toBe(201);
  });

  it('organization members with media.read see the organization’s items; others get 404', async () => {
    expect((await ctx.req({ method: 'GET', url: `/v1/media/${orgItemId}`, token: manager.token })).statusCode).toBe(200);
    const list = await ctx.req({ method: 'GET', url: `/v1/media?organizationId=${orgId}`, token: manager.token });
    expect(list.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toEqual([orgItemId]);
    expect((await ctx.req({ method: 'GET', url: `/v1/media/${orgItemId}`, token: client.token })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'GET', url: `/v1/media/${orgItemId}`, token: creator.token })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'GET', url: `/v1/media?organizationId=${orgId}`, token: creator.token })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'GET', url: `/v1/media?organizationId=${orgId}`, token: client.token })).statusCode).toBe(403);
    // A manager may change it, but only its creator uploads its bytes.
    const patched = await ctx.req({ method: 'PATCH', url: `/v1/media/${orgItemId}`, token: manager.token, payload: { title: 'Renamed by the manager', description: null } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json<MediaDto>()).toMatchObject({ title: 'Renamed by the manager', description: null, organizationId: orgId });
    expect((await tusCreate(ctx, manager.token, orgItemId, { 'upload-length': '1000' })).statusCode).toBe(404);
    expect((await tusCreate(ctx, member.token, orgItemId, { 'upload-length': '1000' })).statusCode).toBe(201);
    // A client member may not create media for the organization.
    const res = await ctx.req({ method: 'POST', url: '/v1/media', token: client.token, payload: { title: 'x', mediaType: 'video', mimeType: 'video/mp4', expectedSizeBytes: 10, organizationId: orgId } });
    expect(res.statusCode).toBe(403);
    const outsider = await ctx.req({ method: 'POST', url: '/v1/media', token: otherCreator.token, payload: { title: 'x', mediaType: 'video', mimeType: 'video/mp4', expectedSizeBytes: 10, organizationId: orgId } });
    expect(outsider.statusCode).toBe(404);
  });
});

describe('list, filters and pagination', () => {
  it('lists my items newest first, filtered by type and status, page by page', async () => {
    const me = await ctx.newUser({ role: 'creator' });
    const a = await createMedia(ctx, me, { expectedSizeBytes: 10, title: 'v1' });
    const b = await createMedia(ctx, me, { expectedSizeBytes: 10, title: 'a1', mediaType: 'audio', mimeType: 'audio/mpeg' });
    const c = await createMedia(ctx, me, { expectedSizeBytes: 10, title: 'v2' });
    const page = async (qs: string) => (await ctx.req({ method: 'GET', url: `/v1/media?${qs}`, token: me.token })).json<{ items: MediaDto[]; nextCursor: string | null }>();
    expect((await page('')).items.map((i) => i.id)).toEqual([c.id, b.id, a.id]);
    expect((await page('mediaType=audio')).items.map((i) => i.id)).toEqual([b.id]);
    expect((await page('mediaType=video&status=uploading')).items.map((i) => i.id)).toEqual([c.id, a.id]);
    expect((await page('status=ready')).items).toEqual([]);
    const first = await page('limit=2');
    expect(first.items.map((i) => i.id)).toEqual([c.id, b.id]);
    const second = await page(`limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((i) => i.id)).toEqual([a.id]);
    expect(second.nextCursor).toBeNull();
  });
});

describe('bad input names the field', () => {
  const post = (payload: Record<string, unknown>) =>
    ctx.req({ method: 'POST', url: '/v1/media', token: creator.token, payload: { title: 'x', mediaType: 'video', mimeType: 'video/mp4', expectedSizeBytes: 10, ...payload } });

  it('POST /v1/media', async () => {
    for (const [payload, field] of [
      [{ title: '' }, 'body.title'],
      [{ title: undefined }, 'body.title'],
      [{ mediaType: 'image' }, 'body.mediaType'],
      [{ mimeType: 'text/plain' }, 'body.mimeType'],
      [{ expectedSizeBytes: 0 }, 'body.expectedSizeBytes'],
      [{ expectedSizeBytes: 1.5 }, 'body.expectedSizeBytes'],
      [{ expectedSizeBytes: '10' }, 'body.expectedSizeBytes'],
      [{ organizationId: 'not-a-uuid' }, 'body.organizationId'],
      [{ description: 'x'.repeat(10_001) }, 'body.description'],
    ] as const) {
      const res = await post(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(errorPaths(res), JSON.stringify(payload)).toContain(field);
    }
    const extra = await post({ status: 'ready' });
    expect(extra.statusCode).toBe(400);
  });

  it('GET, PATCH and DELETE /v1/media/:id, and the list', async () => {
    const id = (await createMedia(ctx, creator, { expectedSizeBytes: 10 })).id;
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await ctx.req({ method, url: '/v1/media/not-a-uuid', token: creator.token, ...(method === 'PATCH' ? { payload: { title: 'y' } } : {}) });
      expect(res.statusCode).toBe(400);
      expect(errorPaths(res)).toEqual(['params.id']);
    }
    const empty = await ctx.req({ method: 'PATCH', url: `/v1/media/${id}`, token: creator.token, payload: {} });
    expect(empty.statusCode).toBe(400);
    const blank = await ctx.req({ method: 'PATCH', url: `/v1/media/${id}`, token: creator.token, payload: { title: '   ' } });
    expect(errorPaths(blank)).toEqual(['body.title']);
    const other = await ctx.req({ method: 'PATCH', url: `/v1/media/${id}`, token: creator.token, payload: { status: 'ready' } });
    expect(other.statusCode).toBe(400);
    for (const [qs, field] of [
      ['status=done', 'querystring.status'],
      ['mediaType=image', 'querystring.mediaType'],
      ['limit=0', 'querystring.limit'],
      ['organizationId=nope', 'querystring.organizationId'],
      ['cursor=garbage', 'querystring.cursor'],
    ] as const) {
      const res = await ctx.req({ method: 'GET', url: `/v1/media?${qs}`, token: creator.token });
      expect(res.statusCode, qs).toBe(400);
      expect(errorPaths(res), qs).toEqual([field]);
    }
  });

  it('the tus creation endpoint', async () => {
    const id = (await createMedia(ctx, creator, { expectedSizeBytes: 10 })).id;
    const noMeta = await tusCreate(ctx, creator.token, null, { 'upload-length': '10' });
    expect(noMeta.statusCode).toBe(400);
    expect(errorPaths(noMeta)).toEqual(['headers.upload-metadata.mediaId']);
    const noLength = await tusCreate(ctx, creator.token, id, {});
    expect(noLength.statusCode).toBe(400);
    expect(errorPaths(noLength)).toEqual(['headers.upload-length']);
    const notUuid = await tusCreate(ctx, creator.token, 'nope', { 'upload-length': '10' });
    expect(notUuid.statusCode).toBe(404);
    // tus keeps no Idempotency-Key (tus writes its own answers; HEAD is its way to retry).
    const withKey = await tusCreate(ctx, creator.token, id, { 'upload-length': '5', 'idempotency-key': 'tus-key-1' });
    expect(withKey.statusCode).toBe(422);
    const { rows: keys } = await ctx.database.raw.query("select 1 from idempotency_keys where key = 'tus-key-1'");
    expect(keys).toEqual([]);
    const noVersion = await ctx.req({ method: 'POST', url: '/v1/media/uploads', token: creator.token, headers: { 'upload-length': '10', 'upload-metadata': `mediaId ${b64(id)}` } });
    expect(noVersion.statusCode).toBe(412);
    // Nothing was created by the refused requests: the right one still goes through.
    expect((await tusCreate(ctx, creator.token, id, { 'upload-length': '10' })).statusCode).toBe(201);
  });
});

describe('capabilities', () => {
  it('says transcoding is available, with the versions, and /ready says so too', async () => {
    const res = await ctx.req({ method: 'GET', url: '/v1/media/capabilities' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ transcoding: { available: true, reason: null, ffmpegVersion: expect.any(String) as string }, storage: { driver: 'disk' }, limits: { video: { maxBytes: 5 * 1024 ** 3 } } });
    const ready = await ctx.req({ method: 'GET', url: '/ready' });
    expect(ready.json()).toMatchObject({ status: 'ready', media: { transcoding: true, detail: null } });
  });
});
