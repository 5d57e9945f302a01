export { createApiKeyRepository } from './apikeys.repository.ts';
export { createApiKeyService, API_KEY_PREFIX, type ApiKeyService } from './apikeys.service.ts';
export { apiKeyRoutes } from './apikeys.routes.ts';
