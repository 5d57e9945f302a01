export { createLmsClient, LmsError, type LmsClient, type LmsSite } from './lms.client.ts';
export { LMS_SECRET_PURPOSE } from './lms.service.ts';
export { createLmsRepository, type LmsRepository } from './lms.repository.ts';
export { createLmsService, type LmsService, type LmsConnection } from './lms.service.ts';
export { lmsRoutes } from './lms.routes.ts';
export { lmsPlatforms, lmsStatuses, type LmsPlatform, type LmsStatus } from './lms.schema.ts';
