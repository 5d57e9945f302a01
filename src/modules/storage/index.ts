export { assertKey, contentTypeOf, createDiskStorage, type ByteRange, type Storage, type StoredObject } from './storage.ts';
