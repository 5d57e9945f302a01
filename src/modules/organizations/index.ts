export { createOrganizationRepository, type OrganizationRepository, type Organization } from './organizations.repository.ts';
export { createOrganizationService, slugify, type OrganizationService } from './organizations.service.ts';
export { organizationRoutes } from './organizations.routes.ts';
export { memberRoles, type MemberRole } from './organizations.schema.ts';
