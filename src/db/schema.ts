// Every table of every module, for Drizzle and drizzle-kit. Modules own their tables; this file
// only gathers them.
export * from '../core/core.schema.ts';
export * from '../modules/identity/identity.schema.ts';
export * from '../modules/organizations/organizations.schema.ts';
export * from '../modules/apikeys/apikeys.schema.ts';
export * from '../modules/audit/audit.schema.ts';
export * from '../modules/mail/mail.schema.ts';
export * from '../modules/ledger/ledger.schema.ts';
export * from '../modules/wallets/wallets.schema.ts';
export * from '../modules/payments/payments.schema.ts';
export * from '../modules/payouts/payouts.schema.ts';
export * from '../modules/invoices/invoices.schema.ts';
export * from '../modules/notifications/notifications.schema.ts';
export * from '../modules/media/media.schema.ts';
export * from '../modules/lms/lms.schema.ts';
export * from '../modules/payplay/payplay.schema.ts';
export * from '../modules/content/content.schema.ts';
