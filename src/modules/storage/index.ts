import type { Config } from '../../config.ts';
import { createS3Storage } from './s3.ts';
import { createDiskStorage, type Storage } from './storage.ts';

export { assertKey, contentTypeOf, createDiskStorage, type ByteRange, type Storage, type StoredObject } from './storage.ts';
export { createS3Storage, type S3StorageOptions } from './s3.ts';

/** The store the configuration names: local disk under STORAGE_DIR, or an S3-compatible bucket. */
export function createStorage(config: Pick<Config, 'storage'>): Storage {
  const { storage } = config;
  switch (storage.driver) {
    case 'disk':
      return createDiskStorage(storage.dir);
    case 's3':
      if (!storage.s3) throw new Error('STORAGE_DRIVER=s3 needs the S3_* settings');
      return createS3Storage(storage.s3);
  }
}
