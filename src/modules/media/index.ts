/**
 * The media library: what other modules (content, playback) may use. `MediaRepository.get(id)`
 * answers one live item with its status, storage keys (original, HLS master, thumbnail),
 * duration, renditions and owner (creatorId, organizationId); the Storage serves the bytes.
 */
export { createMediaRepository, type MediaItem, type MediaRepository } from './media.repository.ts';
export { createMediaService, mediaLimits, MAX_TRANSCODE_ATTEMPTS, type MediaService, type MediaView, type UploadInstructions } from './media.service.ts';
export { mediaRoutes } from './media.routes.ts';
export { createUploadStore, mountUploads, UPLOAD_PATH, type MediaUploads } from './media.uploads.ts';
export { mediaItems, mediaStatuses, mediaTypes, type MediaStatus, type MediaType, type Rendition } from './media.schema.ts';
export { renditionsFor, type Tools } from './media.ffmpeg.ts';
export { createStorage, type ByteRange, type Storage, type StoredObject } from '../storage/index.ts';
