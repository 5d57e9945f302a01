import { createHmac, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { assertKey, contentTypeOf, type Storage } from '../storage/index.ts';
import type { AccessRow, ContentRepository, GrantReason } from './content.repository.ts';
import type { ThumbnailService } from './thumbnails.service.ts';

/** The one access decision: may this user use this content now, and why. */
export interface AccessDecision {
  allowed: boolean;
  /** Why access is granted (creator, member, free, purchased, complimentary, preview, subscription, series_purchase). */
  reason: GrantReason | null;
  /** When the grant answering the decision ends (null = permanent). */
  expiresAt: Date | null;
  row: AccessRow;
}

export interface PlaybackGrant {
  allowed: true;
  reason: GrantReason;
  accessExpiresAt: Date | null;
  contentType: 'video' | 'audio';
  durationSeconds: number | null;
  masterPlaylistUrl: string;
  urlExpiresAt: Date;
}

export interface PlayResponse {
  status: number;
  headers: Record<string, string>;
  body: Readable | string | null;
}

/** Single byte range of `bytes=a-b`, `bytes=a-`, `bytes=-n`; null = no usable Range (serve all); 'bad' = 416. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return header.trim().startsWith('bytes=') && header.includes(',') ? null : 'bad';
  const [, a, b] = m;
  if (a === '' && b === '') return 'bad';
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'bad';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return 'bad';
  }
  if (start >= size || size === 0) return 'bad';
  return { start, end };
}

export function createPlaybackService(deps: {
  repo: ContentRepository;
  access: Access;
  storage: Storage;
  secret: string;
  publicUrl: string;
  ttlSeconds: number;
  thumbnails: Pick<ThumbnailService, 'urlOf'>;
}) {
  const { repo, access, storage, publicUrl, ttlSeconds, thumbnails } = deps;
  const key = createHmac('sha256', deps.secret).update('fanfare-playback-urls-v1').digest();

  const uuidBytes = (u: string) => Buffer.from(u.replace(/-/g, ''), 'hex');
  const uuidOf = (b: Buffer) => {
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  /**
   * A compact token (it is one path segment): content, media and user ids and the expiry in 52
   * bytes, then an HMAC (128 bits) over those and the media's path prefix.
   */
  const sign = (t: {
    contentId: string;
    mediaId: string;
    userId: string;
    prefix: string;
    exp: number;
  }): string => {
    const exp = Buffer.alloc(4);
    exp.writeUInt32BE(t.exp);
    const body = Buffer.concat([uuidBytes(t.contentId), uuidBytes(t.mediaId), uuidBytes(t.userId), exp]);
    return `${body.toString('base64url')}.${mac(body, t.prefix)}`;
  };
  const mac = (body: Buffer, prefix: string) =>
    createHmac('sha256', key).update(body).update(prefix).digest().subarray(0, 16).toString('base64url');
  const parse = (
    token: string,
  ): { contentId: string; mediaId: string; userId: string; exp: number; body: Buffer; sig: Buffer } => {
    const bad = () =>
      new AppError('forbidden', 'This playback link is not valid', { code: 'invalid_signature' });
    const dot = token.indexOf('.');
    if (dot <= 0) throw bad();
    const body = Buffer.from(token.slice(0, dot), 'base64url');
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    if (body.length !== 52 || sig.length !== 16) throw bad();
    const exp = body.readUInt32BE(48);
    if (exp * 1000 <= Date.now())
      {throw new AppError('forbidden', 'This playback link has expired; ask for a new one', {
        code: 'link_expired',
      });}
    return {
      contentId: uuidOf(body.subarray(0, 16)),
      mediaId: uuidOf(body.subarray(16, 32)),
      userId: uuidOf(body.subarray(32, 48)),
      exp,
      body,
      sig,
    };
  };
  const signatureOk = (t: { body: Buffer; sig: Buffer }, prefix: string) =>
    timingSafeEqual(t.sig, Buffer.from(mac(t.body, prefix), 'base64url'));

  const prefixOf = (masterKey: string) => `${path.posix.dirname(masterKey)}/`;

  const service = {
    /** The access decision in one prepared statement (grant sources: see content.repository.ts). */
    async decide(contentId: string, userId: string | null): Promise<AccessDecision | null> {
      const row = await repo.access(contentId, userId);
      if (!row) return null;
      return { allowed: row.reason !== null, reason: row.reason, expiresAt: row.expires_at, row };
    },

    /** Refuses with the status a client can act on: 404 for what it may not know exists, 402 when buying opens it. */
    refusal(d: AccessDecision | null): AppError {
      if (!d || d.row.status === 'draft' || d.row.visibility === 'private') return notFound('Content');
      if (d.row.price_cents !== null)
        {return new AppError('payment_required', 'Buy this content to play it', { code: 'purchase_required' });}
      return new AppError('forbidden', 'You do not have access to this content', { code: 'no_access' });
    },

    async authorize(actor: Actor, contentId: string, opts: { referrer?: string | undefined } = {}): Promise<PlaybackGrant> {
      const user = access.requireUser(actor);
      const found = await repo.authorize(contentId, user.userId, {
        sessionId: user.sessionId,
        ip: user.meta.ip?.slice(0, 45) ?? null,
        userAgent: user.meta.userAgent,
        referrer: opts.referrer?.slice(0, 2000) ?? null,
      });
      const d: AccessDecision | null = found ? { allowed: found.reason !== null, reason: found.reason, expiresAt: found.expires_at, row: found } : null;
      if (!d?.allowed) throw service.refusal(d);
      const row = d.row;
      if (!row.prerequisites_met && d.reason !== 'creator' && d.reason !== 'member') {
        throw new AppError('forbidden', 'Finish the prerequisites of this content first', { code: 'prerequisites_not_met' });
      }
      if (row.content_type === 'written')
        {throw new AppError('unprocessable', 'Written content has nothing to play', { code: 'not_playable' });}
      if (row.media_status !== 'ready' || !row.hls_master_playlist_key)
        {throw new AppError('conflict', 'The media is not ready to play yet', { code: 'media_not_ready' });}
      const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
      const prefix = prefixOf(row.hls_master_playlist_key);
      const token = sign({ contentId, mediaId: row.media_item_id!, userId: user.userId, prefix, exp });
      return {
        allowed: true,
        reason: d.reason!,
        accessExpiresAt: d.expiresAt,
        contentType: row.content_type,
        durationSeconds: row.duration_seconds,
        masterPlaylistUrl: `${publicUrl}/v1/play/${token}/${row.hls_master_playlist_key.slice(prefix.length)}`,
        urlExpiresAt: new Date(exp * 1000),
      };
    },

    /**
     * One signed playlist or segment request. The signature, its expiry and the access decision
     * are checked on every request, so a refund or a revoked grant stops playback at the next segment.
     */
    async play(token: string, rel: string, rangeHeader: string | undefined): Promise<PlayResponse> {
      const parsed = parse(token);
      const d = await service.decide(parsed.contentId, parsed.userId);
      const master = d?.row.hls_master_playlist_key;
      // The signature covers the media's path prefix as the database has it now.
      if (!d || !master || d.row.media_item_id !== parsed.mediaId || !signatureOk(parsed, prefixOf(master))) {
        throw new AppError('forbidden', 'This playback link is not valid', { code: 'invalid_signature' });
      }
      if (!d.allowed)
        {throw new AppError('forbidden', 'Access to this content has ended', { code: 'access_revoked' });}
      if (d.row.media_status !== 'ready')
        {throw new AppError('conflict', 'The media is not ready to play', { code: 'media_not_ready' });}
      const t = { ...parsed, prefix: prefixOf(master) };
      const objectKey = `${t.prefix}${rel}`;
      try {
        assertKey(objectKey);
      } catch {
        throw notFound('File');
      }
      const stat = await storage.stat(objectKey);
      if (!stat) throw notFound('File');
      const type = stat.contentType ?? contentTypeOf(objectKey) ?? 'application/octet-stream';
      const common = { 'cache-control': 'private, no-store', 'accept-ranges': 'bytes' };
      if (objectKey.endsWith('.m3u8')) {
        const chunks: Buffer[] = [];
        for await (const c of await storage.read(objectKey)) chunks.push(c as Buffer);
        const body = await service.rewrite(
          Buffer.concat(chunks).toString('utf8'),
          objectKey,
          t,
          d.row.duration_seconds ?? 0,
        );
        return { status: 200, headers: { ...common, 'content-type': type }, body };
      }
      const range = parseRange(rangeHeader, stat.size);
      if (range === 'bad')
        {return { status: 416, headers: { ...common, 'content-range': `bytes */${stat.size}` }, body: null };}
      if (!range)
        {return {
          status: 200,
          headers: { ...common, 'content-type': type, 'content-length': String(stat.size) },
          body: await storage.read(objectKey),
        };}
      return {
        status: 206,
        headers: {
          ...common,
          'content-type': type,
          'content-length': String(range.end - range.start + 1),
          'content-range': `bytes ${range.start}-${range.end}/${stat.size}`,
        },
        body: await storage.read(objectKey, range),
      };
    },

    /**
     * Every URI of a playlist (lines and URI="…" attributes) becomes a signed URL of its own, valid
     * long enough to play the whole media; with S3 the segments are presigned URLs of the store.
     * URIs leaving the media's prefix are dropped.
     */
    async rewrite(
      text: string,
      playlistKey: string,
      t: { contentId: string; mediaId: string; userId: string; prefix: string },
      durationSeconds: number,
    ): Promise<string> {
      const life = ttlSeconds + Math.max(0, durationSeconds) * 2;
      const token = sign({ ...t, exp: Math.floor(Date.now() / 1000) + life });
      const dir = path.posix.dirname(playlistKey);
      const urlOf = async (uri: string): Promise<string | null> => {
        if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) return uri;
        const resolved = path.posix.normalize(path.posix.join(dir, uri.split('?')[0]!));
        if (!resolved.startsWith(t.prefix)) return null;
        if (storage.driver === 's3' && !resolved.endsWith('.m3u8')) return storage.presignGet(resolved, life);
        return `${publicUrl}/v1/play/${token}/${resolved.slice(t.prefix.length)}`;
      };
      const out: string[] = [];
      for (const line of text.split(/\r?\n/)) {
        const trimmed = line.trim();
        if (!trimmed) {
          out.push(line);
        } else if (trimmed.startsWith('#')) {
          const m = /URI="([^"]*)"/.exec(line);
          if (!m) {
            out.push(line);
            continue;
          }
          const url = await urlOf(m[1]!);
          if (url) out.push(line.replace(m[0], `URI="${url}"`));
        } else {
          const url = await urlOf(trimmed);
          if (url) {
            out.push(url);
          } else {
            // The tags describing the URI just dropped go with it, or the playlist would be
            // malformed: fMP4 single-file playlists put EXTINF and EXT-X-BYTERANGE before it.
            while (/^#EXT(INF|-X-STREAM-INF|-X-BYTERANGE)/.test(out.at(-1)?.trim() ?? '')) out.pop();
          }
        }
      }
      return out.join('\n');
    },

    async saveProgress(
      actor: Actor,
      contentId: string,
      input: { positionSeconds: number; durationSeconds: number },
    ) {
      const user = access.requireUser(actor);
      const row = await repo.saveProgress({
        id: newId(),
        contentId,
        userId: user.userId,
        position: input.positionSeconds,
        duration: input.durationSeconds,
      });
      if (!row) throw notFound('Content');
      if (row.content_type === 'written')
        {throw new AppError('unprocessable', 'Written content has no playback position', {
          code: 'not_playable',
        });}
      if (!row.reason) throw service.refusal(await service.decide(contentId, user.userId));
      return {
        contentId,
        positionSeconds: row.position_seconds!,
        durationSeconds: row.duration_seconds!,
        completed: row.completed!,
        updatedAt: row.updated_at!,
      };
    },

    async progress(actor: Actor, contentId: string) {
      const user = access.requireUser(actor);
      const d = await service.decide(contentId, user.userId);
      if (!d?.allowed) throw service.refusal(d);
      const p = await repo.progress(user.userId, contentId);
      return {
        contentId,
        positionSeconds: p?.positionSeconds ?? 0,
        durationSeconds: p?.durationSeconds ?? d.row.duration_seconds,
        completed: p?.completed ?? false,
        updatedAt: p?.updatedAt ?? null,
      };
    },

    /** Most recent first, not completed, and only what the user may still play. */
    async continueWatching(actor: Actor, limit: number) {
      const user = access.requireUser(actor);
      const rows = await repo.continueWatching(user.userId, limit);
      return rows.map((r) => ({
        contentId: r.content_id,
        title: r.title,
        slug: r.slug,
        contentType: r.content_type,
        thumbnailUrl:
          r.thumbnail_url ?? (r.thumbnail_key && r.media_item_id ? thumbnails.urlOf(r.content_id, r.media_item_id) : null),
        positionSeconds: r.position_seconds,
        durationSeconds: r.duration_seconds,
        updatedAt: r.updated_at,
        reason: r.reason,
      }));
    },
  };
  return service;
}
export type PlaybackService = ReturnType<typeof createPlaybackService>;
