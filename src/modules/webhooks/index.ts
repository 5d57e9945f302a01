export { createWebhookRepository, type WebhookRepository, type WebhookDelivery } from './webhooks.repository.ts';
export { createWebhookService, createWebhookSecretBox, retryDelaySeconds, type WebhookService, type WebhookEnvelope } from './webhooks.service.ts';
export { registerWebhookEvents } from './webhooks.events.ts';
export { webhookRoutes } from './webhooks.routes.ts';
export { signWebhook, verifyWebhookSignature, newWebhookSecret, SIGNATURE_HEADER, EVENT_ID_HEADER, DEFAULT_TOLERANCE_SECONDS, type VerifyResult } from './webhooks.signature.ts';
export { webhookEventTypes, deliveryStatuses, type WebhookEventType, type DeliveryStatus } from './webhooks.schema.ts';
