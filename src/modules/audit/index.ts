export { createAuditRepository } from './audit.repository.ts';
export { createAuditService, type AuditService, type AuditAction, type AuditEntry } from './audit.service.ts';
export { auditRoutes } from './audit.routes.ts';
