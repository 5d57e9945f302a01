import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertKey, contentTypeOf, type Storage } from './storage.ts';

export interface S3StorageOptions {
  /** R2: `https://<account>.r2.cloudflarestorage.com`; MinIO: its URL. Absent for AWS itself. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `bucket` in the path rather than the host name (MinIO and most self-hosted stores). */
  forcePathStyle?: boolean | undefined;
}

const isNotFound = (err: unknown) =>
  err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey');

/** The same error the disk store gives for a missing object, so callers handle one kind. */
const enoent = (key: string) => Object.assign(new Error(`no object at ${key}`), { code: 'ENOENT' });

/** Presigned URLs are SigV4 query signatures, which S3 accepts for at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/**
 * Any S3-compatible store (AWS S3, Cloudflare R2, MinIO) behind the one Storage interface.
 * Objects are single PUTs, which S3 accepts up to 5 GiB: the largest original media allows.
 */
export function createS3Storage(opts: S3StorageOptions): Storage {
  const client = new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    // The SDK's default CRC checksums (and the aws-chunked bodies they bring) are not understood
    // by every S3-compatible store; send them only where the API requires one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = opts.bucket;

  const putFile = async (key: string, filePath: string, contentType?: string) => {
    assertKey(key);
    const { size } = await stat(filePath);
    await client.send(
      new PutObjectCommand({
        Bucket,
        Key: key,
        Body: createReadStream(filePath),
        ContentLength: size,
        ContentType: contentType ?? contentTypeOf(key) ?? 'application/octet-stream',
      }),
    );
  };

  return {
    driver: 's3',
    async put(key, body, o) {
      assertKey(key);
      if (Buffer.isBuffer(body)) {
        await client.send(
          new PutObjectCommand({ Bucket, Key: key, Body: body, ContentLength: body.length, ContentType: o?.contentType ?? contentTypeOf(key) ?? 'application/octet-stream' }),
        );
        return;
      }
      // A PUT needs its length up front; a stream of unknown length is spooled to a file first.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'fanfare-s3-'));
      try {
        const file = path.join(dir, 'body');
        await pipeline(body, createWriteStream(file));
        await putFile(key, file, o?.contentType);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    putFile: (key, filePath, o) => putFile(key, filePath, o?.contentType),
    async stat(key) {
      assertKey(key);
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return { size: head.ContentLength ?? 0, contentType: head.ContentType ?? contentTypeOf(key) };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    async read(key, range) {
      assertKey(key);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
        const body = out.Body;
        if (!body) throw enoent(key);
        return body instanceof Readable ? body : Readable.fromWeb(body.transformToWebStream() as never);
      } catch (err) {
        if (isNotFound(err)) throw enoent(key);
        throw err;
      }
    },
    async delete(key) {
      assertKey(key);
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
    async deletePrefix(prefix) {
      const clean = prefix.replace(/\/+$/, '');
      assertKey(clean);
      // Like the disk store: the object named `clean` and everything under `clean/`.
      await client.send(new DeleteObjectCommand({ Bucket, Key: clean }));
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: `${clean}/`, ...(token ? { ContinuationToken: token } : {}) }));
        const keys = (page.Contents ?? []).map((c) => c.Key).filter((k): k is string => !!k);
        // One DELETE per object rather than DeleteObjects, whose required checksum header not
        // every S3-compatible store accepts; a few at a time.
        for (let i = 0; i < keys.length; i += 16) {
          await Promise.all(keys.slice(i, i + 16).map((Key) => client.send(new DeleteObjectCommand({ Bucket, Key }))));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async presignGet(key, ttlSeconds) {
      assertKey(key);
      const expiresIn = Math.max(1, Math.min(MAX_PRESIGN_SECONDS, Math.floor(ttlSeconds)));
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), { expiresIn });
    },
  };
}
