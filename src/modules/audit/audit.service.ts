import type { Access } from '../../core/access.ts';
import type { Actor, RequestMeta } from '../../core/actor.ts';
import type { Executor } from '../../db/client.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { AuditLog, AuditRepository } from './audit.repository.ts';

/** Security events worth a permanent record. */
export type AuditAction =
  | 'user.signed_up'
  | 'auth.signed_in'
  | 'auth.sign_in_failed'
  | 'auth.signed_out'
  | 'auth.password_changed'
  | 'auth.password_reset_requested'
  | 'auth.password_reset'
  | 'auth.email_verified'
  | 'user.role_changed'
  | 'user.status_changed'
  | 'user.created_by_cli'
  | 'organization.created'
  | 'organization.updated'
  | 'organization.deleted'
  | 'member.role_changed'
  | 'member.removed'
  | 'invitation.created'
  | 'invitation.accepted'
  | 'invitation.revoked'
  | 'client.created'
  | 'client.deleted'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'notification.sent'
  | 'invoice.sent'
  | 'invoice.voided'
  | 'invoice.payment_refunded'
  | 'invoice.marked_paid'
  | 'lms_connection.created'
  | 'lms_connection.updated'
  | 'lms_connection.deleted'
  | 'platform.created'
  | 'platform.active'
  | 'platform.inactive'
  | 'platform.suspended'
  | 'platform.commission_changed'
  | 'platform.webhook_secret_rotated'
  | 'platform_key.created'
  | 'platform_key.rotated'
  | 'platform_key.revoked'
  | 'payplay_grant.approved'
  | 'payplay_grant.revoked'
  | 'wallet.payout_destination_changed'
  | 'wallet.payouts_disabled'
  | 'wallet.payouts_enabled'
  | 'payout.marked_completed'
  | 'payout.marked_failed';

export interface AuditEntry {
  action: AuditAction;
  userId?: string | null;
  organizationId?: string | null;
  resourceType?: string;
  resourceId?: string | null;
  meta?: Partial<RequestMeta>;
  metadata?: Record<string, unknown>;
}

export function createAuditService(deps: { repo: AuditRepository; access: Access }) {
  const { repo, access } = deps;
  return {
    async record(entry: AuditEntry, tx?: Executor): Promise<void> {
      await repo.insert(
        {
          action: entry.action,
          userId: entry.userId ?? null,
          organizationId: entry.organizationId ?? null,
          resourceType: entry.resourceType ?? null,
          resourceId: entry.resourceId ?? null,
          ipAddress: entry.meta?.ip ?? null,
          userAgent: entry.meta?.userAgent ?? null,
          metadata: { ...(entry.metadata ?? {}), ...(entry.meta?.requestId ? { requestId: entry.meta.requestId } : {}) },
        },
        tx,
      );
    },

    async listForOrganization(actor: Actor, organizationId: string, q: PageQuery & { action?: string | undefined }): Promise<Page<AuditLog>> {
      await access.requireOrg(actor, organizationId, 'audit.read');
      const rows = await repo.list({ organizationId, action: q.action, before: decodeCursor(q.cursor), limit: q.limit });
      return toPage(rows, q.limit);
    },

    async listAll(actor: Actor, q: PageQuery & { action?: string | undefined; userId?: string | undefined }): Promise<Page<AuditLog>> {
      access.requirePlatformAdmin(actor);
      const rows = await repo.list({ userId: q.userId, action: q.action, before: decodeCursor(q.cursor), limit: q.limit });
      return toPage(rows, q.limit);
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
