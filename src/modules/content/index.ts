export {
  createContentRepository,
  grantSources,
  ACCESS_SQL,
  PROGRESS_SQL,
  AUTHORIZE_SQL,
  THUMBNAIL_SQL,
  type ContentRepository,
  type Content,
  type Purchase,
  type Series,
} from './content.repository.ts';
export {
  createContentService,
  slugify,
  nextSlug,
  isTimezone,
  type ContentService,
  type ContentView,
} from './content.service.ts';
export { createPurchaseService, type PurchaseService } from './purchases.service.ts';
export {
  createPlaybackService,
  parseRange,
  type PlaybackService,
  type AccessDecision,
} from './playback.service.ts';
export {
  createThumbnailService,
  type ThumbnailService,
  type ThumbnailSource,
  type ThumbnailResponse,
} from './thumbnails.service.ts';
export { contentRoutes } from './content.routes.ts';
