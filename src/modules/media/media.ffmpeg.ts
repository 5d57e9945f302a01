import { spawn } from 'node:child_process';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MediaType } from './media.schema.ts';

/**
 * ffmpeg and ffprobe as child processes: the event loop never waits on media work, a run that
 * passes its deadline is killed, and its priority is lowered so the API stays responsive while
 * a transcode uses the cores.
 */

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class ToolMissingError extends Error {
  constructor(readonly tool: string) {
    super(`${tool} was not found`);
  }
}

/** A reason meant for the creator: why the file was refused or could not be transcoded. */
export class MediaError extends Error {}

const tail = (s: string, n = 1500) => (s.length > n ? `…${s.slice(-n)}` : s).trim();

export function run(cmd: string, args: string[], opts: { timeoutMs: number; maxStdout?: number; nice?: boolean }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const maxStdout = opts.maxStdout ?? 4 * 1024 * 1024;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < maxStdout) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-16_000);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('spawn', () => {
      if (opts.nice && child.pid) {
        try {
          os.setPriority(child.pid, 10);
        } catch {
          // Not permitted here: it runs at normal priority.
        }
      }
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' || err.code === 'EACCES' ? new ToolMissingError(cmd) : err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new MediaError(`${path.basename(cmd)} took longer than ${Math.round(opts.timeoutMs / 1000)} s and was stopped`));
      else resolve({ code, stdout, stderr });
    });
  });
}

export interface Tools {
  available: boolean;
  ffmpeg: { path: string; version: string | null };
  ffprobe: { path: string; version: string | null };
  /** Why media is not transcoded on this server; null when it is. */
  reason: string | null;
}

async function versionOf(cmd: string): Promise<string | null> {
  try {
    const r = await run(cmd, ['-hide_banner', '-version'], { timeoutMs: 15_000 });
    if (r.code !== 0) return null;
    return /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  } catch {
    return null;
  }
}

/** Looks for ffmpeg and ffprobe once; media without them is stored but not transcoded. */
export async function detectTools(ffmpegPath: string, ffprobePath: string): Promise<Tools> {
  const [ffmpeg, ffprobe] = await Promise.all([versionOf(ffmpegPath), versionOf(ffprobePath)]);
  const missing = [ffmpeg ? null : `ffmpeg (FFMPEG_PATH=${ffmpegPath})`, ffprobe ? null : `ffprobe (FFPROBE_PATH=${ffprobePath})`].filter(Boolean);
  return {
    available: missing.length === 0,
    ffmpeg: { path: ffmpegPath, version: ffmpeg },
    ffprobe: { path: ffprobePath, version: ffprobe },
    reason: missing.length
      ? `Media is not transcoded on this server: ${missing.join(' and ')} could not be run. Install the ffmpeg system package (Debian: apt-get install ffmpeg) or set FFMPEG_PATH and FFPROBE_PATH, then restart; uploads are kept and transcoded then.`
      : null,
  };
}

// ---------------------------------------------------------------------------------------------
// What a file is, from its first bytes and its structure (cheap, and works without ffprobe)
// ---------------------------------------------------------------------------------------------

export type Container = 'mp4' | 'mov' | 'mp3' | 'aac' | 'wav' | 'ogg' | 'flac';

/** The MIME type stored for a container, per media type. */
export const containerMime: Record<Container, { video?: string; audio?: string }> = {
  mp4: { video: 'video/mp4', audio: 'audio/mp4' },
  mov: { video: 'video/quicktime', audio: 'audio/mp4' },
  mp3: { audio: 'audio/mpeg' },
  aac: { audio: 'audio/aac' },
  wav: { audio: 'audio/wav' },
  ogg: { audio: 'audio/ogg' },
  flac: { audio: 'audio/flac' },
};
export const fileExtension: Record<Container, string> = { mp4: 'mp4', mov: 'mov', mp3: 'mp3', aac: 'aac', wav: 'wav', ogg: 'ogg', flac: 'flac' };

const topLevelBoxes = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'meta', 'moof', 'mfra', 'styp', 'sidx', 'pdin', 'udta']);

/**
 * Walks an MP4/QuickTime file's top-level boxes: each must fit in the file, so a file cut short
 * (its last box runs past the end) is caught even when its index (moov) came first and a
 * probe alone would accept it.
 */
async function walkIsoBmff(file: string, size: number): Promise<{ container: 'mp4' | 'mov' } | { error: string }> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(16);
    let offset = 0;
    let brand: string | null = null;
    let sawMoov = false;
    let boxes = 0;
    while (offset < size) {
      if (++boxes > 100_000) return { error: 'too many boxes' };
      const { bytesRead } = await fh.read(head, 0, 16, offset);
      if (bytesRead < 8) return { error: 'the file ends inside a box header (it was cut short)' };
      let boxSize = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (boxes === 1 && !topLevelBoxes.has(type)) return { error: 'it does not start with an MP4/QuickTime box' };
      if (!/^[\x20-\x7e]{4}$/.test(type)) return { error: 'it contains a damaged box' };
      if (boxSize === 1) {
        if (bytesRead < 16) return { error: 'the file ends inside a box header (it was cut short)' };
        boxSize = Number(head.readBigUInt64BE(8));
      } else if (boxSize === 0) {
        boxSize = size - offset;
      }
      if (boxSize < 8) return { error: 'it contains a damaged box' };
      if (offset + boxSize > size) return { error: `the ${type} box runs past the end of the file (it was cut short)` };
      if (type === 'ftyp' && bytesRead >= 12) brand = head.toString('latin1', 8, 12);
      if (type === 'moov') sawMoov = true;
      offset += boxSize;
    }
    if (!sawMoov) return { error: 'it has no index (moov box); the upload may be incomplete' };
    return { container: brand === 'qt  ' ? 'mov' : 'mp4' };
  } finally {
    await fh.close();
  }
}

/** The container a file's bytes show, or why it is not one of the accepted ones. */
export async function sniffContainer(file: string): Promise<{ container: Container } | { error: string }> {
  const { size } = await stat(file);
  const fh = await open(file, 'r');
  const head = Buffer.alloc(12);
  try {
    await fh.read(head, 0, 12, 0);
  } finally {
    await fh.close();
  }
  if (size < 12) return { error: 'the file is too small to be audio or video' };
  if (topLevelBoxes.has(head.toString('latin1', 4, 8))) return walkIsoBmff(file, size);
  const magic4 = head.toString('latin1', 0, 4);
  if (magic4 === 'RIFF' && head.toString('latin1', 8, 12) === 'WAVE') return { container: 'wav' };
  if (magic4 === 'OggS') return { container: 'ogg' };
  if (magic4 === 'fLaC') return { container: 'flac' };
  if (head.toString('latin1', 0, 3) === 'ID3') return { container: 'mp3' };
  if (head[0] === 0xff && (head[1]! & 0xf6) === 0xf0) return { container: 'aac' };
  if (head[0] === 0xff && (head[1]! & 0xe0) === 0xe0) return { container: 'mp3' };
  return { error: 'its bytes are not an MP4, QuickTime, MP3, AAC, WAV, Ogg or FLAC file' };
}

// ---------------------------------------------------------------------------------------------
// ffprobe
// ---------------------------------------------------------------------------------------------

export interface Probe {
  formatName: string;
  durationSeconds: number | null;
  video: { codec: string; width: number; height: number } | null;
  hasAudio: boolean;
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    disposition?: { attached_pic?: number };
    tags?: { rotate?: string };
    side_data_list?: { rotation?: number }[];
  }[];
}

export async function probe(ffprobePath: string, file: string): Promise<Probe> {
  const r = await run(ffprobePath, ['-v', 'error', '-hide_banner', '-print_format', 'json', '-show_format', '-show_streams', file], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new MediaError(`ffprobe could not read the file: ${tail(r.stderr.split('\n').filter(Boolean).at(-1) ?? 'unknown error', 300)}`);
  let json: FfprobeJson;
  try {
    json = JSON.parse(r.stdout) as FfprobeJson;
  } catch {
    throw new MediaError('ffprobe gave no readable description of the file');
  }
  const streams = json.streams ?? [];
  // Cover art in an audio file is a one-picture "video" stream; it does not make the file a video.
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic && s.width && s.height);
  let video: Probe['video'] = null;
  if (v) {
    const rotation = Math.abs(Number(v.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? v.tags?.rotate ?? 0)) % 180;
    // ffmpeg turns rotated frames upright, so the picture's height is the width when rotated 90°.
    video = rotation === 90 ? { codec: v.codec_name ?? 'unknown', width: v.height!, height: v.width! } : { codec: v.codec_name ?? 'unknown', width: v.width!, height: v.height! };
  }
  const duration = Number(json.format?.duration);
  return {
    formatName: json.format?.format_name ?? '',
    durationSeconds: Number.isFinite(duration) && duration >= 0 ? duration : null,
    video,
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
  };
}

// ---------------------------------------------------------------------------------------------
// HLS
// ---------------------------------------------------------------------------------------------

/** The ladder: heights and nominal video bitrates (kbit/s). */
export const ladder = [
  { height: 1080, kbps: 5000 },
  { height: 720, kbps: 2800 },
  { height: 480, kbps: 1400 },
  { height: 360, kbps: 800 },
] as const;
const AUDIO_KBPS = 128;

/** Renditions not above the source; a source under 360 lines gets one at its own height. */
export function renditionsFor(sourceHeight: number): { name: string; height: number; kbps: number }[] {
  const fit = ladder.filter((r) => r.height <= sourceHeight).map((r) => ({ name: `${r.height}p`, height: r.height, kbps: r.kbps }));
  if (fit.length) return fit;
  const h = Math.max(2, sourceHeight - (sourceHeight % 2));
  return [{ name: `${h}p`, height: h, kbps: Math.max(150, Math.round((800 * h) / 360)) }];
}

export interface MasterVariant {
  uri: string;
  bandwidth: number;
  resolution: { width: number; height: number } | null;
  codecs: string | null;
}

export function parseMaster(text: string): MasterVariant[] {
  const lines = text.split('\n').map((l) => l.trim());
  const out: MasterVariant[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const attrs = line.slice('#EXT-X-STREAM-INF:'.length);
    const bandwidth = Number(/(?:^|,)BANDWIDTH=(\d+)/.exec(attrs)?.[1]);
    const res = /RESOLUTION=(\d+)x(\d+)/.exec(attrs);
    const codecs = /CODECS="([^"]+)"/.exec(attrs)?.[1] ?? null;
    const uri = lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
    if (uri && bandwidth) out.push({ uri, bandwidth, resolution: res ? { width: Number(res[1]), height: Number(res[2]) } : null, codecs });
  }
  return out;
}

export interface HlsOutput {
  /** Files written, relative to the output directory (POSIX separators). */
  files: string[];
  variants: (MasterVariant & { name: string })[];
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(path.join(dir, e.name), rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

const failed = (what: string, r: RunResult) =>
  new MediaError(`ffmpeg could not ${what} (exit ${r.code}): ${tail(r.stderr.split('\n').filter(Boolean).slice(-3).join(' | '), 400) || 'no message'}`);

/**
 * Writes `master.m3u8` and one folder per rendition (`{name}/index.m3u8`, `{name}/seg_NNNNN.ts`)
 * into `outDir` with one ffmpeg run: the source is decoded once and split to every rendition.
 */
export async function transcodeHls(
  ffmpegPath: string,
  input: string,
  outDir: string,
  kind: MediaType,
  source: Probe,
  timeoutMs: number,
): Promise<HlsOutput> {
  const common = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', input];
  const hls = ['-f', 'hls', '-hls_playlist_type', 'vod', '-hls_segment_filename', path.join(outDir, '%v', 'seg_%05d.ts'), '-master_pl_name', 'master.m3u8'];
  let args: string[];
  let names: string[];
  if (kind === 'audio') {
    if (!source.hasAudio) throw new MediaError('the file has no audio stream');
    names = ['audio'];
    args = [...common, '-map', '0:a:0', '-vn', '-c:a', 'aac', '-b:a', `${AUDIO_KBPS}k`, '-ac', '2', '-hls_time', '6', ...hls, '-var_stream_map', 'a:0,name:audio', path.join(outDir, '%v', 'index.m3u8')];
  } else {
    if (!source.video) throw new MediaError('the file has no video stream');
    const rungs = renditionsFor(source.video.height);
    names = rungs.map((r) => r.name);
    const filter = `[0:v]split=${rungs.length}${rungs.map((_, i) => `[s${i}]`).join('')};` + rungs.map((r, i) => `[s${i}]scale=-2:${r.height}[v${i}]`).join(';');
    const maps: string[] = [];
    rungs.forEach((r, i) => {
      maps.push('-map', `[v${i}]`);
      if (source.hasAudio) maps.push('-map', '0:a:0');
      maps.push(`-b:v:${i}`, `${r.kbps}k`, `-maxrate:v:${i}`, `${Math.round(r.kbps * 1.07)}k`, `-bufsize:v:${i}`, `${Math.round(r.kbps * 1.5)}k`);
    });
    const streamMap = rungs.map((r, i) => (source.hasAudio ? `v:${i},a:${i},name:${r.name}` : `v:${i},name:${r.name}`)).join(' ');
    args = [
      ...common,
      '-filter_complex',
      filter,
      ...maps,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-profile:v',
      'main',
      '-pix_fmt',
      'yuv420p',
      // A key frame every 4 s, so every rendition's segments line up for switching.
      '-force_key_frames',
      'expr:gte(t,n_forced*4)',
      '-sc_threshold',
      '0',
      ...(source.hasAudio ? ['-c:a', 'aac', '-b:a', `${AUDIO_KBPS}k`, '-ac', '2'] : []),
      '-hls_time',
      '4',
      ...hls,
      '-var_stream_map',
      streamMap,
      path.join(outDir, '%v', 'index.m3u8'),
    ];
  }
  const r = await run(ffmpegPath, args, { timeoutMs, nice: true, maxStdout: 0 });
  if (r.code !== 0) throw failed('make the HLS renditions', r);

  const files = await listFiles(outDir);
  const master = parseMaster(await readFile(path.join(outDir, 'master.m3u8'), 'utf8').catch(() => ''));
  const variants = names.map((name) => {
    const v = master.find((m) => m.uri === `${name}/index.m3u8`);
    if (!v) throw new MediaError(`ffmpeg wrote no master playlist entry for the ${name} rendition`);
    if (!files.some((f) => f.startsWith(`${name}/seg_`))) throw new MediaError(`ffmpeg wrote no segments for the ${name} rendition`);
    return { ...v, name };
  });
  return { files, variants };
}

/** A JPEG from early in the video (not the first frame, which is often black), at most 720 lines. */
export async function thumbnail(ffmpegPath: string, input: string, outFile: string, durationSeconds: number | null, timeoutMs: number): Promise<void> {
  const at = durationSeconds ? Math.min(2, durationSeconds / 4) : 0;
  const r = await run(
    ffmpegPath,
    ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-ss', at.toFixed(3), '-i', input, '-frames:v', '1', '-vf', "scale=-2:'min(720,ih)'", '-q:v', '3', outFile],
    { timeoutMs, nice: true, maxStdout: 0 },
  );
  if (r.code !== 0) throw failed('make the thumbnail', r);
  const s = await stat(outFile).catch(() => null);
  if (!s?.size) throw new MediaError('ffmpeg wrote an empty thumbnail');
}
