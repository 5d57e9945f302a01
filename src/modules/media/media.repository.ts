import { and, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import { mediaItems, type MediaStatus, type MediaType } from './media.schema.ts';

export type MediaItem = typeof mediaItems.$inferSelect;
export type NewMediaItem = typeof mediaItems.$inferInsert;
export type MediaPatch = Partial<Omit<NewMediaItem, 'id' | 'creatorId' | 'createdAt'>>;

export interface MediaListFilter {
  /** The creator's own items (personal and organizational); or, with organizationId, the organization's. */
  creatorId?: string | undefined;
  organizationId?: string | undefined;
  mediaType?: MediaType | undefined;
  status?: MediaStatus | undefined;
  before?: string | undefined;
  limit: number;
}

const live = isNull(mediaItems.deletedAt);

export function createMediaRepository(db: Db) {
  // Playback reads the item on every start: prepared, one round trip by primary key.
  const getStmt = db
    .select()
    .from(mediaItems)
    .where(and(eq(mediaItems.id, sql.placeholder('id')), live))
    .prepare('media_item_get');

  return {
    async insert(row: NewMediaItem, tx: Executor = db): Promise<MediaItem> {
      const [out] = await tx.insert(mediaItems).values(row).returning();
      return out!;
    },

    /**
     * One media item that is not deleted, with its status, storage keys, duration and owner
     * (creator and organization): what the content and playback modules read.
     */
    async get(id: string, tx?: Executor): Promise<MediaItem | undefined> {
      const [row] = tx ? await tx.select().from(mediaItems).where(and(eq(mediaItems.id, id), live)) : await getStmt.execute({ id });
      return row;
    },

    async list(f: MediaListFilter): Promise<MediaItem[]> {
      return db
        .select()
        .from(mediaItems)
        .where(
          and(
            live,
            f.creatorId ? eq(mediaItems.creatorId, f.creatorId) : undefined,
            f.organizationId ? eq(mediaItems.organizationId, f.organizationId) : undefined,
            f.mediaType ? eq(mediaItems.mediaType, f.mediaType) : undefined,
            f.status ? eq(mediaItems.status, f.status) : undefined,
            f.before ? lt(mediaItems.id, f.before) : undefined,
          ),
        )
        .orderBy(desc(mediaItems.id))
        .limit(f.limit + 1);
    },

    /** Changes a live item; `onlyIn` makes it conditional on the current status (a state transition). */
    async update(id: string, patch: MediaPatch, opts: { onlyIn?: readonly MediaStatus[]; tx?: Executor } = {}): Promise<MediaItem | undefined> {
      const [row] = await (opts.tx ?? db)
        .update(mediaItems)
        .set(patch)
        .where(and(eq(mediaItems.id, id), live, opts.onlyIn ? inArray(mediaItems.status, [...opts.onlyIn]) : undefined))
        .returning();
      return row;
    },

    /** Records that the tus upload exists; false when one was created already (or the item moved on). */
    async claimUpload(id: string, uploadId: string): Promise<boolean> {
      const rows = await db
        .update(mediaItems)
        .set({ uploadId })
        .where(and(eq(mediaItems.id, id), live, eq(mediaItems.status, 'uploading'), isNull(mediaItems.uploadId)))
        .returning({ id: mediaItems.id });
      return rows.length === 1;
    },

    /** Starts a transcode attempt: counts it, and answers the item as it now is. */
    async beginTranscode(id: string): Promise<MediaItem | undefined> {
      const [row] = await db
        .update(mediaItems)
        .set({ status: 'transcoding', transcodeAttempts: sql`${mediaItems.transcodeAttempts} + 1`, transcodeStartedAt: sql`now()` })
        .where(and(eq(mediaItems.id, id), live, inArray(mediaItems.status, ['uploaded', 'transcoding'])))
        .returning();
      return row;
    },

    async softDelete(id: string, tx: Executor = db): Promise<MediaItem | undefined> {
      const [row] = await tx.update(mediaItems).set({ deletedAt: sql`now()` }).where(and(eq(mediaItems.id, id), live)).returning();
      return row;
    },

    /**
     * Items the worker should (re)start: uploaded but never queued (the server had no ffmpeg, or
     * the enqueue was lost), or left `transcoding` by a worker that died.
     */
    async pendingTranscodes(opts: { uploadedBefore: Date; startedBefore: Date; limit: number }): Promise<{ id: string; transcodeAttempts: number }[]> {
      return db
        .select({ id: mediaItems.id, transcodeAttempts: mediaItems.transcodeAttempts })
        .from(mediaItems)
        .where(
          and(
            live,
            inArray(mediaItems.status, ['uploaded', 'transcoding']),
            or(
              and(eq(mediaItems.status, 'uploaded'), lt(mediaItems.updatedAt, opts.uploadedBefore)),
              and(eq(mediaItems.status, 'transcoding'), lt(mediaItems.transcodeStartedAt, opts.startedBefore)),
            ),
          ),
        )
        .orderBy(mediaItems.updatedAt)
        .limit(opts.limit);
    },
  };
}
export type MediaRepository = ReturnType<typeof createMediaRepository>;
