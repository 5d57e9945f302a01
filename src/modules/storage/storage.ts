import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newId } from '../../core/ids.ts';

/** What the store knows of one object. */
export interface StoredObject {
  size: number;
  contentType: string | null;
}

/** An inclusive byte range, as HTTP Range requests name one. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * One storage for every module: media originals, HLS renditions, thumbnails, invoices. Keys are
 * relative paths such as `originals/{media_id}/video.mp4`, `hls/{media_id}/master.m3u8`,
 * `thumbnails/{media_id}/thumb.jpg` (the creator platform's R2 layout).
 */
export interface Storage {
  readonly driver: 'disk' | 's3';
  put(key: string, body: Buffer | Readable, opts?: { contentType?: string }): Promise<void>;
  /** Stores a file from the local disk (a finished upload, an ffmpeg output). */
  putFile(key: string, filePath: string, opts?: { contentType?: string }): Promise<void>;
  stat(key: string): Promise<StoredObject | null>;
  /** The object's bytes, or `range` of them. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  delete(key: string): Promise<void>;
  /** Removes every object whose key starts with `prefix` (a media item's renditions). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A URL the client may fetch directly for `ttlSeconds` (S3 presigned GET), or null when the
   * store has no URL of its own and Fanfare serves the bytes itself (disk).
   */
  presignGet(key: string, ttlSeconds: number): Promise<string | null>;
  /**
   * The object's path on this machine when the store keeps it as a local file (disk), so ffmpeg
   * can read it in place instead of a copy; null otherwise. Optional: stores without files omit it.
   */
  localPath?(key: string): string | null;
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** Keys are relative paths of safe segments: no `..`, no leading slash, no empty segment. */
export function assertKey(key: string): void {
  if (key.length > 500 || !KEY.test(key) || key.split('/').some((s) => s === '..' || s === '.')) {
    throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
  }
}

const contentTypes: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.mp3': 'audio/mpeg',
  '.mov': 'video/quicktime',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.html': 'text/html; charset=utf-8',
};

/** The content type a key's extension implies, for stores that do not keep one. */
export function contentTypeOf(key: string): string | null {
  return contentTypes[path.extname(key).toLowerCase()] ?? null;
}

/** Local disk under `root`: the default, so media works with nothing configured. */
export function createDiskStorage(root: string): Storage {
  const abs = path.resolve(root);
  const fileOf = (key: string) => {
    assertKey(key);
    return path.join(abs, ...key.split('/'));
  };
  // Written to a temporary name then renamed, so a reader never sees half an object.
  const commit = async (target: string, write: (tmp: string) => Promise<void>) => {
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${newId()}.part`;
    try {
      await write(tmp);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  };
  return {
    driver: 'disk',
    async put(key, body) {
      const target = fileOf(key);
      await commit(target, (tmp) => pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(tmp)));
    },
    async putFile(key, filePath) {
      const target = fileOf(key);
      await commit(target, (tmp) => copyFile(filePath, tmp));
    },
    async stat(key) {
      try {
        const s = await stat(fileOf(key));
        return s.isFile() ? { size: s.size, contentType: contentTypeOf(key) } : null;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async read(key, range) {
      const file = fileOf(key);
      await stat(file);
      return createReadStream(file, range ? { start: range.start, end: range.end } : {});
    },
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
    async deletePrefix(prefix) {
      const clean = prefix.replace(/\/+$/, '');
      assertKey(clean);
      await rm(path.join(abs, ...clean.split('/')), { recursive: true, force: true });
    },
    presignGet() {
      return Promise.resolve(null);
    },
    localPath(key) {
      return fileOf(key);
    },
  };
}
