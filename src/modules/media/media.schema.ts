import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';

export const mediaTypes = ['video', 'audio'] as const;
export type MediaType = (typeof mediaTypes)[number];
/** uploading → uploaded → transcoding → ready | failed (the creator platform's media_status). */
export const mediaStatuses = ['uploading', 'uploaded', 'transcoding', 'ready', 'failed'] as const;
export type MediaStatus = (typeof mediaStatuses)[number];

/** One HLS rendition of a ready item, as its master playlist lists it. */
export interface Rendition {
  /** `1080p`, `720p`, `480p`, `360p`, `{height}p` for a source under 360 lines, or `audio`. */
  name: string;
  width: number | null;
  height: number | null;
  /** Nominal bits per second (video and audio), as in the master's BANDWIDTH. */
  bandwidth: number;
  playlistKey: string;
}

/**
 * A creator's uploaded video or audio: one item can serve many contents. Owned by its creator,
 * and by an organization when uploaded for one (creator-platform-pr44's organization scoping).
 */
export const mediaItems = pgTable(
  'media_items',
  {
    id: id(),
    creatorId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'restrict' }),
    title: varchar({ length: 255 }).notNull(),
    description: text(),
    mediaType: varchar({ length: 10 }).notNull().$type<MediaType>(),
    status: varchar({ length: 20 }).notNull().default('uploading').$type<MediaStatus>(),
    /** The original's storage key, `originals/{media_id}/{file}` (the seed's R2 key, on any store). */
    storageKey: varchar('r2_key', { length: 500 }).notNull(),
    fileSizeBytes: bigint({ mode: 'number' }),
    mimeType: varchar({ length: 100 }),
    durationSeconds: integer(),
    width: integer(),
    height: integer(),
    /** `hls/{media_id}/master.m3u8` once transcoded. */
    hlsMasterPlaylistKey: varchar({ length: 500 }),
    /** `thumbnails/{media_id}/thumb.jpg` once transcoded. */
    thumbnailKey: varchar({ length: 500 }),
    uploadedAt: tz(),
    /** The size the creator declared before uploading; the upload must match it. */
    expectedSizeBytes: bigint({ mode: 'number' }),
    /** The tus upload's id once created (the item id), so a second creation is refused. */
    uploadId: varchar({ length: 100 }),
    /** Why the item is `failed`, in words for the creator. */
    failureReason: text(),
    transcodeAttempts: integer().notNull().default(0),
    transcodeStartedAt: tz(),
    transcodedAt: tz(),
    renditions: jsonb().$type<Rendition[]>(),
    ...timestamps(),
    deletedAt: tz(),
  },
  (t) => [
    index('idx_media_items_creator_id').on(t.creatorId).where(sql`${t.deletedAt} is null`),
    index('idx_media_items_status').on(t.creatorId, t.status).where(sql`${t.deletedAt} is null`),
    index('idx_media_items_type').on(t.creatorId, t.mediaType).where(sql`${t.deletedAt} is null`),
    index('idx_media_items_organization_id').on(t.organizationId).where(sql`${t.organizationId} is not null and ${t.deletedAt} is null`),
    // The worker's sweep for items waiting to be transcoded (or stuck in a crashed transcode).
    index('idx_media_items_pending').on(t.status, t.updatedAt).where(sql`${t.status} in ('uploaded', 'transcoding') and ${t.deletedAt} is null`),
    check('media_items_media_type_check', oneOf(t.mediaType, mediaTypes)),
    check('media_items_status_check', oneOf(t.status, mediaStatuses)),
    check('media_items_file_size_non_negative', sql`${t.fileSizeBytes} is null or ${t.fileSizeBytes} >= 0`),
    check('media_items_dimensions_positive', sql`(${t.width} is null or ${t.width} > 0) and (${t.height} is null or ${t.height} > 0)`),
    check('media_items_duration_non_negative', sql`${t.durationSeconds} is null or ${t.durationSeconds} >= 0`),
    check('media_items_expected_size_positive', sql`${t.expectedSizeBytes} is null or ${t.expectedSizeBytes} > 0`),
    check('media_items_transcode_attempts_non_negative', sql`${t.transcodeAttempts} >= 0`),
  ],
);
