import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Access } from '../../core/access.ts';
import type { Actor, UserActor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { publish } from '../../core/outbox.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { NotificationService } from '../notifications/index.ts';
import { contentTypeOf, type Storage } from '../storage/index.ts';
import {
  containerMime,
  detectTools,
  fileExtension,
  MediaError,
  probe,
  sniffContainer,
  thumbnail,
  ToolMissingError,
  transcodeHls,
  type Container,
  type Probe,
  type Tools,
} from './media.ffmpeg.ts';
import type { MediaItem, MediaRepository } from './media.repository.ts';
import type { MediaStatus, MediaType, Rendition } from './media.schema.ts';

/** What a creator may declare and upload, per media type. */
export const mediaLimits = {
  video: { maxBytes: 5 * 1024 ** 3, mimeTypes: ['video/mp4', 'video/quicktime'], containers: ['mp4', 'mov'] },
  audio: {
    maxBytes: 500 * 1024 ** 2,
    mimeTypes: ['audio/mpeg', 'audio/mp4', 'audio/x-m4a', 'audio/aac', 'audio/wav', 'audio/x-wav', 'audio/wave', 'audio/ogg', 'audio/flac', 'audio/x-flac'],
    containers: ['mp3', 'aac', 'wav', 'ogg', 'flac', 'mp4', 'mov'],
  },
} as const satisfies Record<MediaType, { maxBytes: number; mimeTypes: readonly string[]; containers: readonly Container[] }>;

const ALL_MIME_TYPES: readonly string[] = [...mediaLimits.video.mimeTypes, ...mediaLimits.audio.mimeTypes];
/** A first try and one retry; a worker that died mid-run also uses up an attempt. */
export const MAX_TRANSCODE_ATTEMPTS = 2;

const declaredExtension: Record<string, string> = {
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/x-m4a': 'm4a',
  'audio/aac': 'aac',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/ogg': 'ogg',
  'audio/flac': 'flac',
  'audio/x-flac': 'flac',
};

export interface CreateMediaInput {
  title: string;
  description?: string | null | undefined;
  mediaType: MediaType;
  expectedSizeBytes: number;
  mimeType: string;
  organizationId?: string | null | undefined;
}

export interface UploadInstructions {
  /** tus creation endpoint (POST). */
  endpoint: string;
  /** Where the upload lives once created: HEAD for its offset, PATCH to send bytes. */
  url: string;
  /** The tus Upload-Metadata the creation must carry (plain values; tus base64-encodes them). */
  metadata: { mediaId: string };
  uploadLength: number;
}

export interface MediaView {
  item: MediaItem;
  /** In words: where the item is and, when it is stuck or failed, why. */
  statusDetail: string;
}

export interface MediaServiceDeps {
  db: Db;
  repo: MediaRepository;
  access: Access;
  storage: Storage;
  jobs: JobQueue;
  notifications: NotificationService;
  log: Logger;
  publicUrl: string;
  media: { ffmpegPath: string; ffprobePath: string; transcodeTimeoutSeconds: number; retryDelaySeconds: number };
  /**
   * How many live contents play this item (wired to the content module in the composition root):
   * an item in use is not deleted, or what customers bought would stop playing.
   */
  usedBy?: (mediaId: string) => Promise<number>;
}

const fieldError = (kind: 'bad_request' | 'unprocessable', pathName: string, message: string, code?: string) =>
  new AppError(kind, `${pathName}: ${message}`, { fields: [{ path: pathName, message }], ...(code ? { code } : {}) });

const mb = (n: number) => (n >= 1024 ** 3 ? `${n / 1024 ** 3} GB` : `${n / 1024 ** 2} MB`);

export function createMediaService(deps: MediaServiceDeps) {
  const { db, repo, access, storage, jobs, notifications, log, publicUrl } = deps;
  const opts = deps.media;
  const timeoutMs = opts.transcodeTimeoutSeconds * 1000;

  let toolsPromise: Promise<Tools> | undefined;
  /** ffmpeg and ffprobe are looked for once per process. */
  const tools = () => (toolsPromise ??= detectTools(opts.ffmpegPath, opts.ffprobePath));

  const uploadEndpoint = `${publicUrl}/v1/media/uploads`;
  const uploadInstructions = (item: MediaItem): UploadInstructions => ({
    endpoint: uploadEndpoint,
    url: `${uploadEndpoint}/${item.id}`,
    metadata: { mediaId: item.id },
    uploadLength: item.expectedSizeBytes ?? 0,
  });

  async function statusDetail(item: MediaItem): Promise<string> {
    switch (item.status) {
      case 'uploading':
        return item.uploadId ? 'Upload in progress: resume it with tus (HEAD the upload URL for the offset, then PATCH the rest).' : 'Waiting for the upload: create it with tus at the upload endpoint.';
      case 'uploaded': {
        const t = await tools();
        return t.available ? 'Uploaded; waiting for a worker to transcode it.' : `Uploaded, not transcoded. ${t.reason}`;
      }
      case 'transcoding':
        return item.failureReason
          ? `Transcoding: attempt ${item.transcodeAttempts} of ${MAX_TRANSCODE_ATTEMPTS} failed (${item.failureReason}); it will be retried.`
          : `Transcoding (attempt ${item.transcodeAttempts} of ${MAX_TRANSCODE_ATTEMPTS}).`;
      case 'ready':
        return 'Ready: HLS renditions and thumbnail are stored.';
      case 'failed':
        return `Failed: ${item.failureReason ?? 'unknown reason'}`;
    }
  }
  const view = async (item: MediaItem): Promise<MediaView> => ({ item, statusDetail: await statusDetail(item) });

  /**
   * The one read check: the creator, or a member of the item's organization who may read media.
   * Anything else answers 404, like an item that does not exist.
   */
  async function requireItem(actor: Actor, id: string, permission: 'media.read' | 'media.manage'): Promise<{ user: UserActor; item: MediaItem }> {
    const user = access.requireUser(actor);
    const item = await repo.get(id);
    if (!item) throw notFound('Media item');
    if (item.creatorId === user.userId) return { user, item };
    if (item.organizationId) {
      try {
        await access.requireOrg(actor, item.organizationId, permission);
        return { user, item };
      } catch (err) {
        // A member whose role lacks the permission learns no more than a stranger.
        if (err instanceof AppError && (err.kind === 'not_found' || err.kind === 'forbidden')) throw notFound('Media item');
        throw err;
      }
    }
    throw notFound('Media item');
  }

  /** Only the creator uploads the bytes of an item. */
  async function requireUploader(actor: Actor, id: string): Promise<MediaItem> {
    const user = access.requireUser(actor);
    const item = await repo.get(id);
    if (!item || item.creatorId !== user.userId) throw notFound('Media item');
    return item;
  }

  async function removeObjects(id: string): Promise<void> {
    await storage.deletePrefix(`hls/${id}`);
    await storage.deletePrefix(`thumbnails/${id}`);
    await storage.deletePrefix(`originals/${id}`);
  }

  async function failItem(id: string, reason: string, tx?: Executor): Promise<MediaItem | undefined> {
    const fail = async (t: Executor) => {
      const row = await repo.update(id, { status: 'failed', failureReason: reason.slice(0, 2000) }, { tx: t });
      if (row) await publish(t, 'media.failed', { mediaId: id });
      return row;
    };
    return tx ? fail(tx) : db.transaction(fail);
  }

  async function enqueueTranscode(id: string, attempt: number, delaySeconds = 0): Promise<void> {
    await jobs.send(
      'media.transcode',
      { mediaId: id, attempt },
      { key: `media.transcode:${id}:${attempt}`, ...(delaySeconds ? { startAfter: new Date(Date.now() + delaySeconds * 1000) } : {}), expireInSeconds: opts.transcodeTimeoutSeconds + 900, retryLimit: 1 },
    );
  }

  const kindWord = (item: MediaItem) => (item.mediaType === 'audio' ? 'audio' : 'video');

  async function notifyOutcome(item: MediaItem, outcome: 'ready' | 'failed', tx: Executor): Promise<void> {
    const ready = outcome === 'ready';
    await notifications.notify(
      {
        userId: item.creatorId,
        type: ready ? 'transcoding_ready' : 'transcoding_failed',
        title: ready ? `Your ${kindWord(item)} "${item.title}" is ready` : `Your ${kindWord(item)} "${item.title}" could not be processed`,
        message: ready
          ? `"${item.title}" was transcoded${item.renditions?.length ? ` to ${item.renditions.map((r) => r.name).join(', ')}` : ''} and can now be played.`
          : `Transcoding "${item.title}" failed after ${item.transcodeAttempts} attempt(s): ${item.failureReason ?? 'unknown reason'}. Upload the file again, or try another export of it.`,
        actionUrl: `/v1/media/${item.id}`,
        actionLabel: 'Open the media item',
        relatedId: item.id,
        organizationId: item.organizationId,
        data: { mediaId: item.id, status: item.status },
      },
      tx,
    );
  }

  /** The original on this machine: in place for the disk store, else a download to `tmp`. */
  async function localOriginal(item: MediaItem, tmp: string): Promise<string> {
    const local = storage.localPath?.(item.storageKey);
    if (local && (await stat(local).catch(() => null))?.isFile()) return local;
    const file = path.join(tmp, `original${path.extname(item.storageKey)}`);
    await pipeline(await storage.read(item.storageKey), createWriteStream(file));
    return file;
  }

  /** Checks a finished upload's bytes against what was declared; returns what the file is. */
  async function inspect(item: MediaItem, file: string): Promise<{ container: Container; probe: Probe | null }> {
    const type = item.mediaType;
    const size = (await stat(file)).size;
    if (item.expectedSizeBytes !== null && size !== item.expectedSizeBytes) {
      throw new MediaError(`the file is ${size} bytes but ${item.expectedSizeBytes} were declared`);
    }
    const sniffed = await sniffContainer(file);
    if ('error' in sniffed) throw new MediaError(`the file is not a valid ${type === 'video' ? 'MP4 or MOV video' : 'audio file'}: ${sniffed.error}`);
    if (!(mediaLimits[type].containers as readonly Container[]).includes(sniffed.container)) {
      throw new MediaError(`a ${type} item must be ${type === 'video' ? 'an MP4 or MOV file' : 'MP3, AAC, M4A, WAV, Ogg or FLAC'}, and this file is ${sniffed.container.toUpperCase()}`);
    }
    const t = await tools();
    if (!t.available) return { container: sniffed.container, probe: null };
    const p = await probe(t.ffprobe.path, file);
    if (type === 'video') {
      if (!/(^|,)(mov|mp4)(,|$)/.test(p.formatName)) throw new MediaError(`a video must be in an MP4 or MOV container, and ffprobe reads this file as ${p.formatName || 'unknown'}`);
      if (!p.video) throw new MediaError('the file has no video stream');
    } else {
      if (!p.hasAudio) throw new MediaError('the file has no audio stream');
      if (p.video) throw new MediaError('the file has a video stream: upload it as a video item');
    }
    return { container: sniffed.container, probe: p };
  }

  const service = {
    tools,
    storage,
    uploadInstructions,

    /** What this server can do with media: for GET /v1/media/capabilities and /ready. */
    async capabilities() {
      const t = await tools();
      return {
        transcoding: { available: t.available, ffmpegVersion: t.ffmpeg.version, ffprobeVersion: t.ffprobe.version, reason: t.reason },
        storage: { driver: storage.driver },
        limits: {
          video: { maxBytes: mediaLimits.video.maxBytes, mimeTypes: [...mediaLimits.video.mimeTypes] },
          audio: { maxBytes: mediaLimits.audio.maxBytes, mimeTypes: [...mediaLimits.audio.mimeTypes] },
        },
      };
    },

    async create(actor: Actor, input: CreateMediaInput): Promise<MediaView & { upload: UploadInstructions }> {
      const user = access.requireUser(actor);
      if (input.organizationId) {
        await access.requireOrg(actor, input.organizationId, 'media.manage');
      } else if (user.role !== 'creator' && user.role !== 'admin') {
        throw new AppError('forbidden', 'Only creators upload personal media; ask for the creator role, or upload for an organization where you manage media (organizationId)');
      }
      const limits = mediaLimits[input.mediaType];
      if (!(limits.mimeTypes as readonly string[]).includes(input.mimeType)) {
        throw fieldError('unprocessable', 'body.mimeType', `${input.mimeType} is not accepted for ${input.mediaType}; use one of ${limits.mimeTypes.join(', ')}`, 'unsupported_type');
      }
      if (input.expectedSizeBytes > limits.maxBytes) {
        throw fieldError('unprocessable', 'body.expectedSizeBytes', `${input.mediaType} uploads are limited to ${mb(limits.maxBytes)} (${limits.maxBytes} bytes)`, 'too_large');
      }
      const id = newId();
      const item = await repo.insert({
        id,
        creatorId: user.userId,
        organizationId: input.organizationId ?? null,
        title: input.title,
        description: input.description ?? null,
        mediaType: input.mediaType,
        status: 'uploading',
        storageKey: `originals/${id}/original.${declaredExtension[input.mimeType] ?? 'bin'}`,
        mimeType: input.mimeType,
        expectedSizeBytes: input.expectedSizeBytes,
      });
      return { ...(await view(item)), upload: uploadInstructions(item) };
    },

    async get(actor: Actor, id: string): Promise<MediaView & { upload: UploadInstructions | null }> {
      const { item } = await requireItem(actor, id, 'media.read');
      return { ...(await view(item)), upload: item.status === 'uploading' ? uploadInstructions(item) : null };
    },

    async list(actor: Actor, q: PageQuery & { organizationId?: string | undefined; mediaType?: MediaType | undefined; status?: MediaStatus | undefined }): Promise<Page<MediaView>> {
      const user = access.requireUser(actor);
      if (q.organizationId) await access.requireOrg(actor, q.organizationId, 'media.read');
      const rows = await repo.list({
        ...(q.organizationId ? { organizationId: q.organizationId } : { creatorId: user.userId }),
        mediaType: q.mediaType,
        status: q.status,
        before: decodeCursor(q.cursor),
        limit: q.limit,
      });
      const page = toPage(rows, q.limit);
      return { items: await Promise.all(page.items.map(view)), nextCursor: page.nextCursor };
    },

    async update(actor: Actor, id: string, patch: { title?: string | undefined; description?: string | null | undefined }): Promise<MediaView> {
      await requireItem(actor, id, 'media.manage');
      const row = await repo.update(id, {
        ...(patch.title !== undefined ? { title: patch.title } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
      });
      if (!row) throw notFound('Media item');
      return view(row);
    },

    /** Soft delete: the row stays (contents may name it), its stored objects and any upload go. */
    async remove(actor: Actor, id: string, hooks: { discardUpload?: (id: string) => Promise<void> } = {}): Promise<void> {
      await requireItem(actor, id, 'media.manage');
      const uses = (await deps.usedBy?.(id)) ?? 0;
      if (uses > 0) {
        throw new AppError('conflict', `This media item is played by ${uses} content item(s); delete them, or give them another media item, first`, { code: 'media_in_use' });
      }
      const row = await db.transaction(async (tx) => {
        const deleted = await repo.softDelete(id, tx);
        if (deleted) await publish(tx, 'media.deleted', { mediaId: id });
        return deleted;
      });
      if (!row) throw notFound('Media item');
      if (row.uploadId && hooks.discardUpload) await hooks.discardUpload(id).catch(() => undefined);
      await removeObjects(id);
    },

    // ---- the tus endpoints (see media.uploads.ts) --------------------------------------------

    /** May `actor` create the tus upload of `mediaId` with this length? (Checked before tus runs.) */
    async beginUpload(actor: Actor, mediaId: string | undefined, length: { uploadLength?: number; deferred: boolean }): Promise<MediaItem> {
      access.requireUser(actor);
      if (!mediaId) throw fieldError('bad_request', 'headers.upload-metadata.mediaId', 'the tus Upload-Metadata must name the media item (mediaId)');
      if (!/^[0-9a-f-]{36}$/i.test(mediaId)) throw notFound('Media item');
      const item = await requireUploader(actor, mediaId);
      if (item.status !== 'uploading') throw new AppError('conflict', `This item is already ${item.status}; create a new media item to upload another file`, { code: 'already_uploaded' });
      if (item.uploadId) throw new AppError('conflict', `The upload of this item exists already: resume it at ${uploadEndpoint}/${item.id}`, { code: 'upload_exists' });
      const expected = item.expectedSizeBytes ?? 0;
      if (!length.deferred) {
        if (length.uploadLength === undefined) throw fieldError('bad_request', 'headers.upload-length', 'Upload-Length (or Upload-Defer-Length: 1) is required');
        if (length.uploadLength > mediaLimits[item.mediaType].maxBytes) {
          throw fieldError('unprocessable', 'headers.upload-length', `${item.mediaType} uploads are limited to ${mb(mediaLimits[item.mediaType].maxBytes)}`, 'too_large');
        }
        if (length.uploadLength !== expected) {
          throw fieldError('unprocessable', 'headers.upload-length', `Upload-Length is ${length.uploadLength} but ${expected} bytes were declared for this item`, 'size_mismatch');
        }
      }
      return item;
    },

    /**
     * Records the upload as created, once tus has accepted the request; false when a concurrent
     * creation won.
     */
    async claimUpload(mediaId: string): Promise<boolean> {
      return repo.claimUpload(mediaId, mediaId);
    },

    /** HEAD, PATCH and DELETE of an upload: the creator's, while the item is still uploading. */
    async continueUpload(actor: Actor, mediaId: string): Promise<MediaItem> {
      if (!/^[0-9a-f-]{36}$/i.test(mediaId)) {
        access.requireUser(actor);
        throw notFound('Upload');
      }
      const item = await requireUploader(actor, mediaId);
      if (item.status !== 'uploading') throw new AppError('gone', `This upload is over: the item is ${item.status}`, { code: 'upload_over' });
      if (!item.uploadId) throw notFound('Upload');
      return item;
    },

    /** The most bytes the upload may reach (tus refuses more with 413). */
    async uploadLimit(mediaId: string | null): Promise<number> {
      const item = mediaId ? await repo.get(mediaId) : undefined;
      return item?.expectedSizeBytes ?? mediaLimits.video.maxBytes;
    },

    /** A terminated (tus DELETE) upload, or one whose file is gone, may be created again. */
    async uploadTerminated(mediaId: string): Promise<void> {
      await repo.update(mediaId, { uploadId: null }, { onlyIn: ['uploading'] });
    },

    /**
     * The last byte arrived: check the file, move it to `originals/{id}/`, mark the item
     * uploaded and queue its transcode. A bad file marks the item failed with the reason and
     * leaves nothing in storage. The temporary file is the caller's to remove, in every case.
     */
    async completeUpload(mediaId: string, file: string): Promise<MediaItem> {
      const item = await repo.get(mediaId);
      if (!item || item.status !== 'uploading') throw new MediaError('the media item is gone or no longer waiting for an upload');
      let key: string | null = null;
      try {
        const { container, probe: p } = await inspect(item, file);
        key = `originals/${item.id}/original.${item.mediaType === 'audio' && container === 'mp4' ? 'm4a' : fileExtension[container]}`;
        const mime = containerMime[container][item.mediaType] ?? item.mimeType ?? 'application/octet-stream';
        await storage.putFile(key, file, { contentType: mime });
        const size = (await stat(file)).size;
        const row = await repo.update(
          item.id,
          {
            status: 'uploaded',
            storageKey: key,
            uploadedAt: new Date(),
            fileSizeBytes: size,
            mimeType: mime,
            failureReason: null,
            ...(p ? { durationSeconds: p.durationSeconds === null ? null : Math.round(p.durationSeconds), width: p.video?.width ?? null, height: p.video?.height ?? null } : {}),
          },
          { onlyIn: ['uploading'] },
        );
        if (!row) throw new MediaError('the media item was deleted during the upload');
        if ((await tools()).available) {
          // A lost enqueue is not fatal: the worker's sweep finds items left `uploaded`.
          await enqueueTranscode(row.id, 1).catch((err: unknown) => log.error({ err, mediaId: row.id }, 'could not queue the transcode'));
        }
        return row;
      } catch (err) {
        const reason = err instanceof MediaError ? err.message : 'the upload could not be stored';
        if (!(err instanceof MediaError)) log.error({ err, mediaId }, 'storing an upload failed');
        await storage.deletePrefix(`originals/${item.id}`).catch((e: unknown) => log.error({ err: e, mediaId }, 'could not remove a refused original'));
        await failItem(item.id, reason);
        throw new MediaError(reason);
      }
    },

    // ---- the transcode job ---------------------------------------------------------------------

    /**
     * Probes the original, writes the HLS renditions, master playlist and thumbnail, stores them
     * and marks the item ready. Idempotent: an item that is not waiting for a transcode is left
     * alone. A failure is retried once after MEDIA_RETRY_DELAY_SECONDS; the second marks the
     * item failed. Both outcomes notify the creator.
     */
    async transcode(mediaId: string): Promise<void> {
      const t = await tools();
      if (!t.available) return;
      const current = await repo.get(mediaId);
      if (!current || (current.status !== 'uploaded' && current.status !== 'transcoding')) return;
      const item = await repo.beginTranscode(mediaId);
      if (!item) return;
      if (item.transcodeAttempts > MAX_TRANSCODE_ATTEMPTS) {
        await db.transaction(async (tx) => {
          const row = await failItem(item.id, item.failureReason ?? 'transcoding was interrupted too many times', tx);
          if (row) await notifyOutcome(row, 'failed', tx);
        });
        return;
      }
      const started = Date.now();
      const tmp = await mkdtemp(path.join(os.tmpdir(), `fanfare-transcode-${item.id}-`));
      try {
        const input = await localOriginal(item, tmp);
        const source = await probe(t.ffprobe.path, input);
        const outDir = path.join(tmp, 'hls');
        // Whatever an earlier, interrupted attempt left is replaced, never mixed in.
        await storage.deletePrefix(`hls/${item.id}`);
        await storage.deletePrefix(`thumbnails/${item.id}`);
        const hls = await transcodeHls(t.ffmpeg.path, input, outDir, item.mediaType, source, timeoutMs);
        let thumbnailKey: string | null = null;
        if (item.mediaType === 'video') {
          const thumbFile = path.join(tmp, 'thumb.jpg');
          await thumbnail(t.ffmpeg.path, input, thumbFile, source.durationSeconds, timeoutMs);
          thumbnailKey = `thumbnails/${item.id}/thumb.jpg`;
          await storage.putFile(thumbnailKey, thumbFile, { contentType: 'image/jpeg' });
        }
        // Renditions first, the master last: a reader that finds the master finds everything it names.
        for (const f of hls.files.filter((x) => x !== 'master.m3u8')) {
          const key = `hls/${item.id}/${f}`;
          await storage.putFile(key, path.join(outDir, ...f.split('/')), { contentType: contentTypeOf(key) ?? 'application/octet-stream' });
        }
        const masterKey = `hls/${item.id}/master.m3u8`;
        await storage.putFile(masterKey, path.join(outDir, 'master.m3u8'), { contentType: 'application/vnd.apple.mpegurl' });
        const renditions: Rendition[] = hls.variants.map((v) => ({
          name: v.name,
          width: v.resolution?.width ?? null,
          height: v.resolution?.height ?? null,
          bandwidth: v.bandwidth,
          playlistKey: `hls/${item.id}/${v.uri}`,
        }));
        const done = await db.transaction(async (tx) => {
          const row = await repo.update(
            item.id,
            {
              status: 'ready',
              hlsMasterPlaylistKey: masterKey,
              thumbnailKey,
              renditions,
              durationSeconds: source.durationSeconds === null ? null : Math.round(source.durationSeconds),
              width: source.video?.width ?? null,
              height: source.video?.height ?? null,
              transcodedAt: new Date(),
              failureReason: null,
            },
            { onlyIn: ['transcoding'], tx },
          );
          if (row) {
            await notifyOutcome(row, 'ready', tx);
            await publish(tx, 'media.ready', { mediaId: row.id });
          }
          return row;
        });
        // Deleted while it was being transcoded: take back what was just stored.
        if (!done) await removeObjects(item.id);
        log.info({ mediaId: item.id, ms: Date.now() - started, renditions: renditions.map((r) => r.name) }, 'media transcoded');
      } catch (err) {
        await storage.deletePrefix(`hls/${item.id}`).catch(() => undefined);
        await storage.deletePrefix(`thumbnails/${item.id}`).catch(() => undefined);
        if (err instanceof ToolMissingError) {
          // ffmpeg went away under us: back to `uploaded`, where the sweep will find it again.
          toolsPromise = undefined;
          await repo.update(item.id, { status: 'uploaded', transcodeAttempts: item.transcodeAttempts - 1 }, { onlyIn: ['transcoding'] });
          return;
        }
        const reason = err instanceof MediaError ? err.message : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
        log.warn({ err, mediaId: item.id, attempt: item.transcodeAttempts }, 'transcode failed');
        if (item.transcodeAttempts < MAX_TRANSCODE_ATTEMPTS) {
          const row = await repo.update(item.id, { failureReason: reason.slice(0, 2000) }, { onlyIn: ['transcoding'] });
          if (row) await enqueueTranscode(item.id, item.transcodeAttempts + 1, opts.retryDelaySeconds);
          return;
        }
        await db.transaction(async (tx) => {
          const row = await failItem(item.id, reason, tx);
          if (row) await notifyOutcome(row, 'failed', tx);
        });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },

    /**
     * Queues what should be transcoded and is not: items uploaded while the server had no
     * ffmpeg, and items whose worker died mid-transcode. Run by the maintenance job.
     */
    async requeuePending(now = new Date()): Promise<number> {
      if (!(await tools()).available) return 0;
      const rows = await repo.pendingTranscodes({
        uploadedBefore: new Date(now.getTime() - 60_000),
        startedBefore: new Date(now.getTime() - (opts.transcodeTimeoutSeconds + 900) * 1000),
        limit: 100,
      });
      for (const r of rows) await enqueueTranscode(r.id, r.transcodeAttempts + 1);
      return rows.length;
    },
  };
  return service;
}
export type MediaService = ReturnType<typeof createMediaService>;

export { ALL_MIME_TYPES };
