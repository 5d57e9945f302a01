export { createPayplayRepository, type PayplayRepository, type Platform, type PlaybackSession, type Grant } from './payplay.repository.ts';
export { createPayplayService, PLATFORM_KEY_PREFIX, type PayplayService, type TickResult, type WebhookSecretIssuer, type PlatformWithSecret } from './payplay.service.ts';
export { payplayRoutes } from './payplay.routes.ts';
export { meter, unitCost, unitsWithin } from './payplay.billing.ts';
