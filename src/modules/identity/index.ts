export { createAuth, type Auth, type AuthHooks } from './auth.ts';
export { createIdentityRepository, SESSION_BY_TOKEN_SQL, type IdentityRepository, type SessionRow, type User } from './identity.repository.ts';
export { createIdentityService, identityAuthHooks, escapeHtml, type IdentityService } from './identity.service.ts';
export { identityRoutes, credentialsOf, userSchema, toUserDto } from './identity.routes.ts';
export { platformRoles, type PlatformRole } from './identity.schema.ts';
