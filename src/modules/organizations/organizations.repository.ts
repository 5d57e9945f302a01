import { and, asc, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import type { Membership } from '../../core/actor.ts';
import { users } from '../identity/identity.schema.ts';
import { clientAccounts, invitations, organizations, teamMembers } from './organizations.schema.ts';

export type Organization = typeof organizations.$inferSelect;
export type Member = typeof teamMembers.$inferSelect;
export type Invitation = typeof invitations.$inferSelect;
export type ClientAccount = typeof clientAccounts.$inferSelect;
export type MemberWithUser = Member & { email: string; name: string };

export function createOrganizationRepository(db: Db) {
  // The membership check runs on nearly every organization request: one prepared statement.
  const membershipStmt = db
    .select({
      memberId: teamMembers.id,
      organizationId: teamMembers.organizationId,
      role: teamMembers.role,
      permissions: teamMembers.permissions,
      clientAccountId: teamMembers.clientAccountId,
    })
    .from(teamMembers)
    .innerJoin(organizations, eq(organizations.id, teamMembers.organizationId))
    .where(
      and(
        eq(teamMembers.userId, sql.placeholder('userId')),
        eq(teamMembers.organizationId, sql.placeholder('orgId')),
        eq(teamMembers.status, 'active'),
        isNull(organizations.deletedAt),
      ),
    )
    .prepare('org_membership');

  return {
    async getMembership(userId: string, orgId: string): Promise<Membership | null> {
      const [row] = await membershipStmt.execute({ userId, orgId });
      return row ?? null;
    },

    // organizations
    async create(row: typeof organizations.$inferInsert, tx: Executor = db): Promise<Organization> {
      const [created] = await tx.insert(organizations).values(row).returning();
      return created!;
    },
    async getById(id: string, tx: Executor = db): Promise<Organization | undefined> {
      const [row] = await tx.select().from(organizations).where(and(eq(organizations.id, id), isNull(organizations.deletedAt)));
      return row;
    },
    async slugTaken(slug: string): Promise<boolean> {
      const rows = await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.slug, slug));
      return rows.length > 0;
    },
    async listForUser(userId: string): Promise<(Organization & { memberRole: Member['role'] })[]> {
      const rows = await db
        .select({ org: organizations, memberRole: teamMembers.role })
        .from(teamMembers)
        .innerJoin(organizations, eq(organizations.id, teamMembers.organizationId))
        .where(and(eq(teamMembers.userId, userId), eq(teamMembers.status, 'active'), isNull(organizations.deletedAt)))
        .orderBy(asc(organizations.name));
      return rows.map((r) => ({ ...r.org, memberRole: r.memberRole }));
    },
    async update(id: string, patch: Partial<typeof organizations.$inferInsert>, tx: Executor = db): Promise<Organization | undefined> {
      const [row] = await tx.update(organizations).set(patch).where(and(eq(organizations.id, id), isNull(organizations.deletedAt))).returning();
      return row;
    },
    async softDelete(id: string, tx: Executor = db): Promise<void> {
      await tx.update(organizations).set({ deletedAt: sql`now()` }).where(eq(organizations.id, id));
    },

    // members
    async addMember(row: typeof teamMembers.$inferInsert, tx: Executor = db): Promise<Member> {
      const [created] = await tx.insert(teamMembers).values(row).returning();
      return created!;
    },
    async getMember(orgId: string, memberId: string, tx: Executor = db): Promise<Member | undefined> {
      const [row] = await tx
        .select()
        .from(teamMembers)
        .where(and(eq(teamMembers.organizationId, orgId), eq(teamMembers.id, memberId)))
        .for('update');
      return row;
    },
    async findMemberByUser(orgId: string, userId: string, tx: Executor = db): Promise<Member | undefined> {
      const [row] = await tx.select().from(teamMembers).where(and(eq(teamMembers.organizationId, orgId), eq(teamMembers.userId, userId)));
      return row;
    },
    async findMemberByEmail(orgId: string, email: string, tx: Executor = db): Promise<Member | undefined> {
      const [row] = await tx
        .select({ m: teamMembers })
        .from(teamMembers)
        .innerJoin(users, eq(users.id, teamMembers.userId))
        .where(and(eq(teamMembers.organizationId, orgId), eq(users.email, email)));
      return row?.m;
    },
    async listMembers(orgId: string, filter: { before?: string | undefined; limit: number }): Promise<MemberWithUser[]> {
      const rows = await db
        .select({ m: teamMembers, email: users.email, name: users.name })
        .from(teamMembers)
        .innerJoin(users, eq(users.id, teamMembers.userId))
        .where(and(eq(teamMembers.organizationId, orgId), filter.before ? lt(teamMembers.id, filter.before) : undefined))
        .orderBy(desc(teamMembers.id))
        .limit(filter.limit + 1);
      return rows.map((r) => ({ ...r.m, email: r.email, name: r.name }));
    },
    async updateMember(id: string, patch: Partial<typeof teamMembers.$inferInsert>, tx: Executor = db): Promise<Member | undefined> {
      const [row] = await tx.update(teamMembers).set(patch).where(eq(teamMembers.id, id)).returning();
      return row;
    },
    async deleteMember(id: string, tx: Executor = db): Promise<void> {
      await tx.delete(teamMembers).where(eq(teamMembers.id, id));
    },

    // invitations
    async createInvitation(row: typeof invitations.$inferInsert, tx: Executor = db): Promise<Invitation> {
      const [created] = await tx.insert(invitations).values(row).returning();
      return created!;
    },
    async getInvitation(orgId: string, id: string, tx: Executor = db): Promise<Invitation | undefined> {
      const [row] = await tx.select().from(invitations).where(and(eq(invitations.organizationId, orgId), eq(invitations.id, id)));
      return row;
    },
    async getInvitationByTokenHash(tokenHash: string, tx: Executor = db): Promise<Invitation | undefined> {
      const [row] = await tx.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).for('update');
      return row;
    },
    async listInvitations(orgId: string, filter: { status?: Invitation['status'] | undefined; before?: string | undefined; limit: number }): Promise<Invitation[]> {
      return db
        .select()
        .from(invitations)
        .where(
          and(
            eq(invitations.organizationId, orgId),
            filter.status ? eq(invitations.status, filter.status) : undefined,
            filter.before ? lt(invitations.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(invitations.id))
        .limit(filter.limit + 1);
    },
    async updateInvitation(id: string, patch: Partial<typeof invitations.$inferInsert>, tx: Executor = db): Promise<Invitation | undefined> {
      const [row] = await tx.update(invitations).set(patch).where(eq(invitations.id, id)).returning();
      return row;
    },
    /** Pending invitations past their expiry become `expired`, so the e-mail can be invited again. */
    async expireInvitations(orgId: string, tx: Executor = db): Promise<void> {
      await tx
        .update(invitations)
        .set({ status: 'expired' })
        .where(and(eq(invitations.organizationId, orgId), eq(invitations.status, 'pending'), sql`${invitations.expiresAt} <= now()`));
    },

    // client accounts
    async createClient(row: typeof clientAccounts.$inferInsert, tx: Executor = db): Promise<ClientAccount> {
      const [created] = await tx.insert(clientAccounts).values(row).returning();
      return created!;
    },
    async getClient(orgId: string, id: string, tx: Executor = db): Promise<ClientAccount | undefined> {
      const [row] = await tx
        .select()
        .from(clientAccounts)
        .where(and(eq(clientAccounts.organizationId, orgId), eq(clientAccounts.id, id), isNull(clientAccounts.deletedAt)));
      return row;
    },
    async listClients(orgId: string, filter: { onlyId?: string | null | undefined; before?: string | undefined; limit: number }): Promise<ClientAccount[]> {
      return db
        .select()
        .from(clientAccounts)
        .where(
          and(
            eq(clientAccounts.organizationId, orgId),
            isNull(clientAccounts.deletedAt),
            filter.onlyId !== undefined ? eq(clientAccounts.id, filter.onlyId ?? '00000000-0000-0000-0000-000000000000') : undefined,
            filter.before ? lt(clientAccounts.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(clientAccounts.id))
        .limit(filter.limit + 1);
    },
    async updateClient(id: string, patch: Partial<typeof clientAccounts.$inferInsert>, tx: Executor = db): Promise<ClientAccount | undefined> {
      const [row] = await tx.update(clientAccounts).set(patch).where(and(eq(clientAccounts.id, id), isNull(clientAccounts.deletedAt))).returning();
      return row;
    },
  };
}
export type OrganizationRepository = ReturnType<typeof createOrganizationRepository>;
