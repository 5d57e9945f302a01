import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { mediaStatuses, mediaTypes } from './media.schema.ts';
import { ALL_MIME_TYPES, mediaLimits, type MediaService, type MediaView, type UploadInstructions } from './media.service.ts';
import type { MediaUploads } from './media.uploads.ts';

const renditionSchema = z.object({
  name: z.string(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  bandwidth: z.number().int(),
  playlistKey: z.string(),
});

const uploadSchema = z
  .object({
    endpoint: z.string().describe('tus creation endpoint: POST with Upload-Length and Upload-Metadata `mediaId <base64 id>`'),
    url: z.string().describe('the upload once created (the Location of the creation): HEAD for the offset, PATCH for bytes'),
    metadata: z.object({ mediaId: z.uuid() }),
    uploadLength: z.number().int(),
  })
  .meta({ id: 'MediaUpload' });

const mediaSchema = z
  .object({
    id: z.uuid(),
    creatorId: z.uuid(),
    organizationId: z.uuid().nullable(),
    title: z.string(),
    description: z.string().nullable(),
    mediaType: z.enum(mediaTypes),
    status: z.enum(mediaStatuses),
    statusDetail: z.string(),
    failureReason: z.string().nullable(),
    storageKey: z.string(),
    expectedSizeBytes: z.number().int().nullable(),
    fileSizeBytes: z.number().int().nullable(),
    mimeType: z.string().nullable(),
    durationSeconds: z.number().int().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    hlsMasterPlaylistKey: z.string().nullable(),
    thumbnailKey: z.string().nullable(),
    renditions: z.array(renditionSchema),
    transcodeAttempts: z.number().int(),
    uploadedAt: z.date().nullable(),
    transcodedAt: z.date().nullable(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'MediaItem' });

const toDto = ({ item, statusDetail }: MediaView) => ({
  id: item.id,
  creatorId: item.creatorId,
  organizationId: item.organizationId,
  title: item.title,
  description: item.description,
  mediaType: item.mediaType,
  status: item.status,
  statusDetail,
  failureReason: item.failureReason,
  storageKey: item.storageKey,
  expectedSizeBytes: item.expectedSizeBytes,
  fileSizeBytes: item.fileSizeBytes,
  mimeType: item.mimeType,
  durationSeconds: item.durationSeconds,
  width: item.width,
  height: item.height,
  hlsMasterPlaylistKey: item.hlsMasterPlaylistKey,
  thumbnailKey: item.thumbnailKey,
  renditions: item.renditions ?? [],
  transcodeAttempts: item.transcodeAttempts,
  uploadedAt: item.uploadedAt,
  transcodedAt: item.transcodedAt,
  createdAt: item.createdAt,
  updatedAt: item.updatedAt,
});

const capabilitiesSchema = z.object({
  transcoding: z.object({ available: z.boolean(), ffmpegVersion: z.string().nullable(), ffprobeVersion: z.string().nullable(), reason: z.string().nullable() }),
  storage: z.object({ driver: z.enum(['disk', 's3']) }),
  limits: z.object({
    video: z.object({ maxBytes: z.number().int(), mimeTypes: z.array(z.string()) }),
    audio: z.object({ maxBytes: z.number().int(), mimeTypes: z.array(z.string()) }),
  }),
});

const idParams = z.object({ id: z.uuid() });
const title = z.string().trim().min(1).max(255);
const description = z.string().max(10_000).nullable();

export const mediaRoutes = (media: MediaService, uploads: MediaUploads): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['media'];
    const withUpload = (v: MediaView & { upload: UploadInstructions | null }) => ({ ...toDto(v), upload: v.upload });

    app.get(
      '/v1/media/capabilities',
      { schema: { tags, summary: 'What this server does with media: transcoding (ffmpeg) available or why not, storage, upload limits', response: { 200: capabilitiesSchema } } },
      async () => media.capabilities(),
    );

    app.post(
      '/v1/media',
      {
        schema: {
          tags,
          summary: 'Create a media item, then upload its file with tus',
          description: `Declares the file before any byte is sent: video (${mediaLimits.video.mimeTypes.join(', ')}) up to 5 GB, audio (${mediaLimits.audio.mimeTypes.join(', ')}) up to 500 MB. The answer names the tus endpoint; the upload's Upload-Length must equal expectedSizeBytes. Platform creators and admins upload personal media; with organizationId, members whose role has media.manage.`,
          body: z
            .object({
              title,
              description: description.optional(),
              mediaType: z.enum(mediaTypes),
              expectedSizeBytes: z.number().int().min(1),
              mimeType: z.string().min(3).max(100).toLowerCase().refine((v) => ALL_MIME_TYPES.includes(v), `must be one of ${ALL_MIME_TYPES.join(', ')}`),
              organizationId: z.uuid().nullable().optional(),
            })
            .strict(),
          response: { 201: mediaSchema.extend({ upload: uploadSchema }), ...errorResponses(400, 401, 403, 404, 422) },
        },
      },
      async (req, reply) => {
        const created = await media.create(req.actor, req.body);
        return reply.status(201).send({ ...toDto(created), upload: created.upload });
      },
    );

    app.get(
      '/v1/media',
      {
        schema: {
          tags,
          summary: 'My media items, or an organization’s (newest first)',
          querystring: pageQuery.extend({
            organizationId: z.uuid().optional(),
            mediaType: z.enum(mediaTypes).optional(),
            status: z.enum(mediaStatuses).optional(),
          }),
          response: { 200: pageSchema(mediaSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const page = await media.list(req.actor, req.query);
        return { items: page.items.map(toDto), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/v1/media/:id',
      {
        schema: {
          tags,
          summary: 'A media item: its status (and why, when not ready), keys, duration and renditions',
          params: idParams,
          response: { 200: mediaSchema.extend({ upload: uploadSchema.nullable() }), ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => withUpload(await media.get(req.actor, req.params.id)),
    );

    app.patch(
      '/v1/media/:id',
      {
        schema: {
          tags,
          summary: 'Change a media item’s title or description',
          params: idParams,
          body: z
            .object({ title: title.optional(), description: description.optional() })
            .strict()
            .refine((b) => b.title !== undefined || b.description !== undefined, 'give title or description'),
          response: { 200: mediaSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => toDto(await media.update(req.actor, req.params.id, req.body)),
    );

    app.delete(
      '/v1/media/:id',
      {
        schema: {
          tags,
          summary: 'Delete a media item: its original, renditions and thumbnail are removed from storage',
          description: 'Refused (409 media_in_use) while a content plays it: delete the content, or give it another media item, first.',
          params: idParams,
          response: { 204: z.null(), ...errorResponses(400, 401, 404, 409) },
        },
      },
      async (req, reply) => {
        await media.remove(req.actor, req.params.id, { discardUpload: (id) => uploads.discard(id) });
        return reply.status(204).send(null);
      },
    );
  };
