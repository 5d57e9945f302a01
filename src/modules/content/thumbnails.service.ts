import type { Readable } from 'node:stream';
import { actorUserId, type Actor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import type { Storage } from '../storage/index.ts';
import type { Content, ContentRepository } from './content.repository.ts';

/** Where a content's thumbnail comes from: the creator's own URL, the media pipeline's, or none. */
export type ThumbnailSource = 'custom' | 'generated' | null;
export type WithThumbnail<T> = T & { thumbnailSource: ThumbnailSource };

export interface ThumbnailResponse {
  status: 200 | 302 | 304;
  headers: Record<string, string>;
  body: Readable | null;
}

/** How long a listed content's preview may be cached by anyone (browsers, CDNs). */
const PUBLIC_MAX_AGE = 300;

export function createThumbnailService(deps: {
  repo: ContentRepository;
  storage: Storage;
  publicUrl: string;
  ttlSeconds: number;
}) {
  const { repo, storage, publicUrl, ttlSeconds } = deps;
  /**
   * The Fanfare URL of a generated thumbnail. `v` changes when the content plays another media
   * item, so a cached image of the old one is never shown for the new one.
   */
  const urlOf = (contentId: string, mediaItemId: string) =>
    `${publicUrl}/v1/content/${contentId}/thumbnail?v=${mediaItemId.replace(/-/g, '').slice(-12)}`;

  const service = {
    urlOf,
    /** True for a URL this service made for this content (a client echoing a DTO back in a PATCH). */
    isGeneratedUrl(contentId: string, url: string): boolean {
      return url.startsWith(`${publicUrl}/v1/content/${contentId}/thumbnail`);
    },

    /**
     * The effective thumbnail of each content: the creator's thumbnailUrl when set, else the
     * media item's generated one when it has been made. One query for the whole list.
     */
    async decorate<T extends Content>(rows: T[]): Promise<WithThumbnail<T>[]> {
      const wanted = [...new Set(rows.filter((r) => !r.thumbnailUrl && r.mediaItemId).map((r) => r.mediaItemId!))];
      const ready = await repo.mediaWithThumbnails(wanted);
      return rows.map((r) => {
        if (r.thumbnailUrl) return { ...r, thumbnailSource: 'custom' as const };
        if (r.mediaItemId && ready.has(r.mediaItemId))
          {return { ...r, thumbnailUrl: urlOf(r.id, r.mediaItemId), thumbnailSource: 'generated' as const };}
        return { ...r, thumbnailSource: null };
      });
    },
    async decorateOne<T extends Content>(row: T): Promise<WithThumbnail<T>> {
      return (await service.decorate([row]))[0]!;
    },

    /**
     * A content's thumbnail image. A listed content's (published, not private) is a catalog
     * preview open to anyone; a draft's or a private one's only to those the access decision
     * grants (its creator, its organization's members), others get 404. The creator's own URL
     * answers with a redirect to it; with S3 the stored image is a redirect to a presigned GET.
     */
    async serve(actor: Actor, contentId: string, ifNoneMatch?: string): Promise<ThumbnailResponse> {
      const row = await repo.thumbnail(contentId, actorUserId(actor));
      if (!row || (!row.listed && row.reason === null)) throw notFound('Content');
      const cacheControl = row.listed ? `public, max-age=${PUBLIC_MAX_AGE}` : 'private, no-cache';
      // Only web URLs: a creator's javascript: or data: URL is not followed from Fanfare's origin.
      if (row.thumbnail_url && /^https?:\/\//i.test(row.thumbnail_url))
        {return { status: 302, headers: { location: row.thumbnail_url, 'cache-control': cacheControl }, body: null };}
      if (!row.media_item_id)
        {throw new AppError('not_found', 'This content has no media item, so no generated thumbnail', { code: 'no_thumbnail' });}
      if (row.media_status !== 'ready')
        {throw new AppError('not_found', 'The media item is still being transcoded; its thumbnail comes when it is ready', {
          code: 'thumbnail_not_ready',
        });}
      if (!row.thumbnail_key)
        {throw new AppError('not_found', 'The media item has no thumbnail (audio makes none)', { code: 'no_thumbnail' });}
      if (storage.driver === 's3') {
        const url = await storage.presignGet(row.thumbnail_key, ttlSeconds);
        if (url) {
          // The presigned URL expires: a cached redirect must not outlive it.
          const age = Math.max(0, Math.min(PUBLIC_MAX_AGE, Math.floor(ttlSeconds / 2)));
          return {
            status: 302,
            headers: { location: url, 'cache-control': row.listed ? `public, max-age=${age}` : 'private, no-store' },
            body: null,
          };
        }
      }
      const stat = await storage.stat(row.thumbnail_key);
      if (!stat) throw new AppError('not_found', 'The thumbnail file is missing from storage', { code: 'no_thumbnail' });
      // The item and its transcode identify the image; the size guards against a rewrite in place.
      const etag = `"${row.media_item_id.replace(/-/g, '')}-${row.transcoded_at?.getTime() ?? 0}-${stat.size}"`;
      const headers = { 'cache-control': cacheControl, etag, 'x-content-type-options': 'nosniff' };
      if (ifNoneMatch?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*'))
        {return { status: 304, headers, body: null };}
      return {
        status: 200,
        headers: { ...headers, 'content-type': stat.contentType ?? 'image/jpeg', 'content-length': String(stat.size) },
        body: await storage.read(row.thumbnail_key),
      };
    },
  };
  return service;
}
export type ThumbnailService = ReturnType<typeof createThumbnailService>;
