import { existsSync, mkdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { MediaError } from './media.ffmpeg.ts';
import type { MediaService } from './media.service.ts';

export const UPLOAD_PATH = '/v1/media/uploads';

/** tus's Upload-Metadata: `key base64,key base64`. */
export function parseUploadMetadata(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (header ?? '').split(',')) {
    const [k, v] = pair.trim().split(' ');
    if (k) out[k] = v ? Buffer.from(v, 'base64').toString('utf8') : '';
  }
  return out;
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** What tus sends back for a refused request: an Error carrying tus's status and body. */
const tusError = (status: number, body: string) => Object.assign(new Error(body.trim()), { status_code: status, body });

/** Unfinished uploads are kept this long (tus Upload-Expires), then purged by maintenance. */
export const UPLOAD_EXPIRY_MS = 7 * 24 * 3600 * 1000;

export interface MediaUploads {
  /** tus's file store, made on first use so a server that never takes an upload makes no directory. */
  store(): FileStore;
  /** Removes an upload in progress (its temporary file), e.g. when its item is deleted. */
  discard(mediaId: string): Promise<void>;
  /** Removes unfinished uploads older than UPLOAD_EXPIRY_MS; answers how many. */
  purgeExpired(): Promise<number>;
}

export function createUploadStore(directory: string): MediaUploads {
  let store: FileStore | undefined;
  const get = () => {
    if (!store) {
      mkdirSync(directory, { recursive: true });
      store = new FileStore({ directory, expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS });
    }
    return store;
  };
  return {
    store: get,
    async discard(mediaId) {
      await get().remove(mediaId);
    },
    async purgeExpired() {
      return existsSync(directory) ? get().deleteExpired() : 0;
    },
  };
}

/**
 * The resumable upload endpoints (tus 1.0: creation, creation-with-upload, termination,
 * HEAD for the offset, PATCH for bytes), mounted on Fastify. Fastify authenticates the request
 * and the media service decides who may upload what before tus sees a byte; tus then owns the
 * raw request and response (`reply.hijack()`).
 */
export function mountUploads(app: FastifyInstance, media: MediaService, uploads: MediaUploads, opts: { uploadDir: string; publicUrl: string; log: Logger }): void {
  let tus: TusServer | undefined;
  const server = () => {
    if (tus) return tus;
    const datastore = uploads.store();
    tus = new TusServer({
      path: UPLOAD_PATH,
      datastore,
      // Each upload is named after its media item, checked before tus runs.
      namingFunction: (_req, metadata) => metadata?.mediaId ?? '',
      generateUrl: (_req, { id }) => `${opts.publicUrl}${UPLOAD_PATH}/${id}`,
      getFileIdFromRequest: (req) => /\/v1\/media\/uploads\/([0-9a-fA-F-]{36})\/?$/.exec(new URL(req.url).pathname)?.[1],
      maxSize: (_req, id) => media.uploadLimit(id),
      respectForwardedHeaders: false,
      onUploadCreate: async (_req, upload) => {
        if (!(await media.claimUpload(upload.id))) throw tusError(409, 'The upload of this item was created already\n');
        return {};
      },
      onUploadFinish: async (_req, upload) => {
        const file = path.join(opts.uploadDir, upload.id);
        try {
          await media.completeUpload(upload.id, file);
          return {};
        } catch (err) {
          if (err instanceof MediaError) throw tusError(422, `Upload refused: ${err.message}\n`);
          opts.log.error({ err, mediaId: upload.id }, 'finishing an upload failed');
          throw tusError(500, 'The upload could not be stored\n');
        } finally {
          // The temporary file goes whatever happened: stored, or refused.
          await datastore.remove(upload.id).catch(() => undefined);
        }
      },
    });
    return tus;
  };

  const handOver = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    await server().handle(req.raw, reply.raw);
  };

  void app.register(async (scope) => {
    // tus bodies are raw bytes that tus itself reads from the request stream.
    scope.addContentTypeParser('application/offset+octet-stream', (_req, _payload, done) => done(null));
    // tus answers are written by tus, past Fastify's onSend, where a kept Idempotency-Key response
    // would be stored; tus resumes with HEAD instead, so the header does not apply here.
    scope.addHook('onRequest', async (req) => {
      delete req.headers['idempotency-key'];
    });
    const hide = { schema: { hide: true } };

    scope.post(UPLOAD_PATH, hide, async (req, reply) => {
      const length = header(req, 'upload-length');
      await media.beginUpload(req.actor, parseUploadMetadata(header(req, 'upload-metadata')).mediaId, {
        ...(length !== undefined && /^\d+$/.test(length) ? { uploadLength: Number(length) } : {}),
        deferred: header(req, 'upload-defer-length') === '1',
      });
      await handOver(req, reply);
    });
    scope.route({
      method: ['HEAD', 'PATCH', 'DELETE'],
      url: `${UPLOAD_PATH}/:id`,
      ...hide,
      handler: async (req, reply) => {
        const { id } = req.params as { id: string };
        await media.continueUpload(req.actor, id);
        // Its file is gone (expired, or lost): the creator may create the upload again. Settled
        // before answering, so the client's next request sees it.
        if (!(await stat(path.join(opts.uploadDir, id)).catch(() => null))) {
          await media.uploadTerminated(id);
          throw new AppError('not_found', 'This upload is gone (it expired or was terminated); create it again', { code: 'upload_gone' });
        }
        // Likewise a termination; tus's create truncates any file a failed termination left.
        if (req.method === 'DELETE') await media.uploadTerminated(id);
        await handOver(req, reply);
      },
    });
    // CORS preflight and tus discovery carry no credentials.
    scope.options(UPLOAD_PATH, hide, handOver);
    scope.options(`${UPLOAD_PATH}/:id`, hide, handOver);
  });
}
