import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeS3, type FakeS3 } from '../../../test/fake-s3.ts';
import { createTestContext, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { filesUnder, makeClip, uploadFile } from '../../../test/media-fixtures.ts';

interface MediaDto {
  id: string;
  status: string;
  statusDetail: string;
  failureReason: string | null;
  transcodeAttempts: number;
  durationSeconds: number | null;
  hlsMasterPlaylistKey: string | null;
}

let dir: string;
let clip: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-media-tools-'));
  clip = makeClip(dir, 'clip.mp4', { width: 320, height: 240, seconds: 1 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const get = async (ctx: TestContext, user: TestUser, id: string) => (await ctx.req({ method: 'GET', url: `/v1/media/${id}`, token: user.token })).json<MediaDto>();

describe('a server without ffmpeg', () => {
  let ctx: TestContext;
  let creator: TestUser;
  beforeAll(async () => {
    ctx = await createTestContext({
      STORAGE_DIR: path.join(dir, 'no-ffmpeg-storage'),
      UPLOAD_DIR: path.join(dir, 'no-ffmpeg-uploads'),
      FFMPEG_PATH: path.join(dir, 'missing', 'ffmpeg'),
      FFPROBE_PATH: path.join(dir, 'missing', 'ffprobe'),
    });
    creator = await ctx.newUser({ role: 'creator' });
  });
  afterAll(async () => ctx?.close());

  it('runs, takes uploads, keeps them `uploaded`, and says why on the item, /v1/media/capabilities and /ready', async () => {
    const { media, finish } = await uploadFile(ctx, creator, clip);
    expect(finish.statusCode, finish.body).toBe(204);
    await ctx.drain();
    const item = await get(ctx, creator, media.id);
    expect(item.status).toBe('uploaded');
    expect(item.statusDetail).toMatch(/not transcoded.*ffmpeg.*FFMPEG_PATH/);
    expect(filesUnder(path.join(dir, 'no-ffmpeg-storage'))).toEqual([`originals/${media.id}/original.mp4`]);

    const caps = (await ctx.req({ method: 'GET', url: '/v1/media/capabilities' })).json<{ transcoding: { available: boolean; reason: string } }>();
    expect(caps.transcoding.available).toBe(false);
    expect(caps.transcoding.reason).toMatch(/apt-get install ffmpeg/);
    const ready = await ctx.req({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', media: { transcoding: false, detail: expect.stringContaining('FFMPEG_PATH') as string } });
    expect(await ctx.services.media.requeuePending(new Date(Date.now() + 3600_000))).toBe(0);
  });

  it('still refuses a file that is not a video, from its bytes alone', async () => {
    const file = path.join(dir, 'notes.mp4');
    writeFileSync(file, 'not a video\n'.repeat(20));
    const { media, finish } = await uploadFile(ctx, creator, file);
    expect(finish.statusCode).toBe(422);
    expect((await get(ctx, creator, media.id)).status).toBe('failed');
  });
});

describe('transcoding on S3 storage, with a failing ffmpeg', () => {
  let ctx: TestContext;
  let s3: FakeS3;
  let creator: TestUser;
  const flag = () => path.join(dir, 'ffmpeg-fails');

  beforeAll(async () => {
    s3 = await startFakeS3();
    // ffmpeg that answers -version, and fails every real run while the flag file exists.
    const real = execFileSync('sh', ['-c', 'command -v ffmpeg']).toString().trim();
    const wrapper = path.join(dir, 'ffmpeg-wrapper');
    writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *-version*) exec ${real} "$@";; esac\nif [ -e ${flag()} ]; then echo "simulated encoder crash" >&2; exit 1; fi\nexec ${real} "$@"\n`);
    chmodSync(wrapper, 0o755);
    ctx = await createTestContext({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: s3.url,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
      UPLOAD_DIR: path.join(dir, 's3-uploads'),
      FFMPEG_PATH: wrapper,
      MEDIA_RETRY_DELAY_SECONDS: '0',
    });
    creator = await ctx.newUser({ role: 'creator' });
  });
  afterAll(async () => {
    await ctx?.close();
    await s3?.close();
  });
  const objectsOf = (id: string) => [...s3.objects.keys()].filter((k) => k.includes(id)).sort();

  it('retries a failed transcode once, then marks the item failed and notifies the creator in the app and by mail', async () => {
    writeFileSync(flag(), '');
    const { media, finish } = await uploadFile(ctx, creator, clip, { title: 'Doomed clip' });
    expect(finish.statusCode, finish.body).toBe(204);
    expect(objectsOf(media.id)).toEqual([`originals/${media.id}/original.mp4`]);
    await ctx.drain();
    const item = await get(ctx, creator, media.id);
    expect(item).toMatchObject({ status: 'failed', transcodeAttempts: 2, hlsMasterPlaylistKey: null });
    expect(item.failureReason).toContain('simulated encoder crash');
    const { rows: jobs } = await ctx.database.raw.query<{ n: number }>("select count(*)::int as n from pgboss.job where name = 'media.transcode' and data->>'mediaId' = $1", [media.id]);
    expect(jobs[0]!.n).toBe(2);
    // Nothing half-made stays: only the original, kept for another try.
    expect(objectsOf(media.id)).toEqual([`originals/${media.id}/original.mp4`]);
    const { rows } = await ctx.database.raw.query<{ type: string; message: string }>('select type, message from notifications where user_id = $1', [creator.id]);
    expect(rows.map((r) => r.type)).toEqual(['transcoding_failed']);
    expect(rows[0]!.message).toContain('simulated encoder crash');
    const mails = await ctx.mailTo(creator.email);
    expect(mails.map((m) => m.subject)).toContain('Your video "Doomed clip" could not be processed');
    unlinkSync(flag());
  });

  it('transcodes from and to S3 when ffmpeg works, and deletes every object on delete', async () => {
    const { media, finish } = await uploadFile(ctx, creator, clip, { title: 'Good clip' });
    expect(finish.statusCode, finish.body).toBe(204);
    await ctx.drain();
    const item = await get(ctx, creator, media.id);
    expect(item.status, item.statusDetail).toBe('ready');
    const keys = objectsOf(media.id);
    expect(keys).toEqual(expect.arrayContaining([`hls/${media.id}/master.m3u8`, `hls/${media.id}/240p/index.m3u8`, `hls/${media.id}/240p/seg_00000.ts`, `thumbnails/${media.id}/thumb.jpg`]));
    expect(s3.objects.get(`hls/${media.id}/master.m3u8`)!.contentType).toBe('application/vnd.apple.mpegurl');
    const url = await ctx.services.storage.presignGet(`hls/${media.id}/master.m3u8`, 60);
    expect(await (await fetch(url!)).text()).toMatch(/^#EXTM3U/);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/media/${media.id}`, token: creator.token })).statusCode).toBe(204);
    expect(objectsOf(media.id)).toEqual([]);
  });
});
