import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeS3, type FakeS3 } from '../../../test/fake-s3.ts';
import { testConfig } from '../../../test/helpers.ts';
import { createDiskStorage, createS3Storage, createStorage, type Storage } from './index.ts';

let s3: FakeS3;
let dir: string;
beforeAll(async () => {
  s3 = await startFakeS3({ listPageSize: 2 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-storage-'));
});
afterAll(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

const s3Options = () => ({ endpoint: s3.url, region: s3.region, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });

const stores: [string, () => Storage][] = [
  ['disk', () => createDiskStorage(path.join(dir, 'disk'))],
  ['s3', () => createS3Storage(s3Options())],
];

describe.each(stores)('%s storage', (_name, make) => {
  let store: Storage;
  beforeAll(() => {
    store = make();
  });

  it('puts buffers, streams and files, and reads them whole or by byte range', async () => {
    await store.put('originals/m1/a.txt', Buffer.from('hello world'));
    await store.put('originals/m1/b.txt', Readable.from([Buffer.from('from '), Buffer.from('a stream')]));
    const file = path.join(dir, 'upload.bin');
    writeFileSync(file, '0123456789');
    await store.putFile('hls/m1/720p/seg_000.ts', file);

    expect(await text(await store.read('originals/m1/a.txt'))).toBe('hello world');
    expect(await text(await store.read('originals/m1/b.txt'))).toBe('from a stream');
    expect(await text(await store.read('hls/m1/720p/seg_000.ts', { start: 2, end: 5 }))).toBe('2345');
    expect(await store.stat('hls/m1/720p/seg_000.ts')).toEqual({ size: 10, contentType: 'video/mp2t' });
    expect(await store.stat('originals/m1/missing.txt')).toBeNull();
    await expect(store.read('originals/m1/missing.txt')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('deletes one object, and every object under a prefix (across list pages)', async () => {
    for (const n of ['master.m3u8', '360p/index.m3u8', '360p/seg_000.ts', '360p/seg_001.ts', '480p/seg_000.ts']) {
      await store.put(`hls/m2/${n}`, Buffer.from(n));
    }
    await store.put('hls/m20/master.m3u8', Buffer.from('another item'));
    await store.delete('hls/m2/master.m3u8');
    expect(await store.stat('hls/m2/master.m3u8')).toBeNull();
    await store.deletePrefix('hls/m2/');
    expect(await store.stat('hls/m2/360p/seg_001.ts')).toBeNull();
    expect(await store.stat('hls/m2/480p/seg_000.ts')).toBeNull();
    // A sibling whose key merely starts with the same characters is not under the prefix.
    expect(await store.stat('hls/m20/master.m3u8')).not.toBeNull();
  });

  it('refuses keys that could escape the store', async () => {
    await expect(store.put('../etc/passwd', Buffer.from('x'))).rejects.toThrow(/invalid storage key/);
    await expect(store.stat('/abs')).rejects.toThrow(/invalid storage key/);
    await expect(store.deletePrefix('hls/..')).rejects.toThrow(/invalid storage key/);
  });
});

describe('s3 storage', () => {
  it('signs every request with SigV4 in the Authorization header', () => {
    expect(s3.log.length).toBeGreaterThan(10);
    expect(s3.log.every((r) => r.auth === 'header' && r.status < 500)).toBe(true);
  });

  it('presigns GETs with a valid SigV4 query signature that expires', async () => {
    const store = createS3Storage(s3Options());
    await store.put('thumbnails/m3/thumb.jpg', Buffer.from('jpeg bytes'));
    const url = new URL((await store.presignGet('thumbnails/m3/thumb.jpg', 600))!);
    expect(url.origin + url.pathname).toBe(`${s3.url}/${s3.bucket}/thumbnails/m3/thumb.jpg`);
    const q = url.searchParams;
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toMatch(new RegExp(`^${s3.accessKeyId}/\\d{8}/auto/s3/aws4_request$`));
    expect(q.get('X-Amz-Expires')).toBe('600');
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('jpeg bytes');
    expect(s3.log.at(-1)).toMatchObject({ method: 'GET', auth: 'query', status: 200 });

    const ranged = await fetch(url, { headers: { range: 'bytes=0-3' } });
    expect(ranged.status).toBe(206);
    expect(await ranged.text()).toBe('jpeg');

    const tampered = new URL(url);
    tampered.pathname = tampered.pathname.replace('thumb.jpg', 'other.jpg');
    expect((await fetch(tampered)).status).toBe(403);
    const badSig = new URL(url);
    badSig.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    expect((await fetch(badSig)).status).toBe(403);
    const longer = new URL(url);
    longer.searchParams.set('X-Amz-Expires', '604800');
    expect((await fetch(longer)).status).toBe(403);

    const short = await store.presignGet('thumbnails/m3/thumb.jpg', 1);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await fetch(short!);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('expired');
  });

  it('is chosen by STORAGE_DRIVER, with STORAGE_DIR for the disk', () => {
    const disk = createStorage(testConfig({ STORAGE_DIR: path.join(dir, 'configured') }));
    expect(disk.driver).toBe('disk');
    expect(disk.localPath?.('originals/x/a.mp4')).toBe(path.join(dir, 'configured', 'originals', 'x', 'a.mp4'));
    expect(testConfig({ DATA_DIR: dir }).storage.dir).toBe(path.join(dir, 'storage'));
    const remote = createStorage(
      testConfig({ STORAGE_DRIVER: 's3', S3_ENDPOINT: s3.url, S3_BUCKET: s3.bucket, S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 'b', S3_FORCE_PATH_STYLE: 'true' }),
    );
    expect(remote.driver).toBe('s3');
    expect(() => testConfig({ STORAGE_DRIVER: 's3' })).toThrow(/S3_BUCKET: required when STORAGE_DRIVER=s3[\s\S]*S3_ACCESS_KEY_ID[\s\S]*S3_SECRET_ACCESS_KEY/);
    expect(() => testConfig({ STORAGE_DRIVER: 'ftp' })).toThrow(/STORAGE_DRIVER/);
  });
});
