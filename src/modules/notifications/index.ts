export {
  createNotificationRepository,
  type Notification,
  type NotificationRepository,
} from './notifications.repository.ts';
export {
  createNotificationService,
  effectivePreferences,
  type NotificationService,
  type NotificationSettings,
  type NotifyInput,
  type NotifyResult,
} from './notifications.service.ts';
export { notificationRoutes } from './notifications.routes.ts';
export {
  DEFAULT_LOW_BALANCE_THRESHOLD,
  mandatoryTypes,
  notificationTypes,
  typeDefaults,
  type ChannelPreference,
  type NotificationType,
} from './notifications.schema.ts';
