import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse, TestContext, TestUser } from './helpers.ts';

/** Tiny test media made with the system ffmpeg (lavfi test pattern and sine tone). */
export function makeClip(dir: string, name: string, opts: { width?: number; height?: number; seconds?: number; audioOnly?: boolean; faststart?: boolean; noAudio?: boolean } = {}): string {
  const file = path.join(dir, name);
  if (existsSync(file)) return file;
  const seconds = String(opts.seconds ?? 2);
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y'];
  if (!opts.audioOnly) args.push('-f', 'lavfi', '-i', `testsrc=size=${opts.width ?? 320}x${opts.height ?? 240}:rate=25:duration=${seconds}`);
  if (!opts.noAudio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`);
  if (!opts.audioOnly) args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (!opts.noAudio) args.push('-c:a', name.endsWith('.mp3') ? 'libmp3lame' : 'aac');
  if (opts.faststart) args.push('-movflags', '+faststart');
  args.push('-shortest', file);
  execFileSync(process.env.FFMPEG_PATH ?? 'ffmpeg', args, { stdio: 'pipe' });
  return file;
}

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
export const TUS = { 'tus-resumable': '1.0.0' };

export interface CreatedMedia {
  id: string;
  status: string;
  upload: { endpoint: string; url: string; metadata: { mediaId: string }; uploadLength: number };
}

export async function createMedia(ctx: TestContext, user: TestUser, body: Record<string, unknown>): Promise<CreatedMedia> {
  const res = await ctx.req({ method: 'POST', url: '/v1/media', token: user.token, payload: { title: 'A clip', mediaType: 'video', mimeType: 'video/mp4', ...body } });
  if (res.statusCode !== 201) throw new Error(`create media failed: ${res.statusCode} ${res.body}`);
  return res.json<CreatedMedia>();
}

export const tusCreate = (ctx: TestContext, token: string | undefined, mediaId: string | null, headers: Record<string, string>, payload?: Buffer) =>
  ctx.req({
    method: 'POST',
    url: '/v1/media/uploads',
    ...(token ? { token } : {}),
    headers: { ...TUS, ...(mediaId ? { 'upload-metadata': `mediaId ${b64(mediaId)},filename ${b64('clip.mp4')}` } : {}), ...(payload ? { 'content-type': 'application/offset+octet-stream' } : {}), ...headers },
    ...(payload ? { payload } : {}),
  });

export const tusPatch = (ctx: TestContext, token: string | undefined, url: string, offset: number, chunk: Buffer, headers: Record<string, string> = {}) =>
  ctx.req({
    method: 'PATCH',
    url: new URL(url, 'http://x').pathname,
    ...(token ? { token } : {}),
    headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', ...headers },
    payload: chunk,
  });

export const tusHead = (ctx: TestContext, token: string | undefined, url: string) =>
  ctx.req({ method: 'HEAD', url: new URL(url, 'http://x').pathname, ...(token ? { token } : {}), headers: TUS });

/** Creates an item for `file` and uploads it in one PATCH; answers the finishing PATCH. */
export async function uploadFile(
  ctx: TestContext,
  user: TestUser,
  file: string,
  body: Record<string, unknown> = {},
): Promise<{ media: CreatedMedia; finish: LightMyRequestResponse }> {
  const bytes = readFileSync(file);
  const media = await createMedia(ctx, user, { expectedSizeBytes: bytes.length, ...body });
  const created = await tusCreate(ctx, user.token, media.id, { 'upload-length': String(bytes.length) });
  if (created.statusCode !== 201) throw new Error(`tus create failed: ${created.statusCode} ${created.body}`);
  const finish = await tusPatch(ctx, user.token, created.headers.location as string, 0, bytes);
  return { media, finish };
}

/** Every file under `dir` (relative paths), for "nothing was left behind" checks. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p, rel ? `${rel}/${e}` : e);
      else out.push(rel ? `${rel}/${e}` : e);
    }
  };
  walk(dir, '');
  return out.sort();
}
