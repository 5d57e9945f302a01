import { and, desc, eq, ilike, lt, ne, sql } from 'drizzle-orm';
import type { Executor, NamedQuery } from '../../db/client.ts';
import { sessions, users, verifications, type PlatformRole, type UserStatus } from './identity.schema.ts';

export type User = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;

export interface ProfilePatch {
  name?: string | undefined;
  image?: string | null | undefined;
  bio?: string | null | undefined;
  phone?: string | null | undefined;
  countryCode?: string | null | undefined;
  timezone?: string | undefined;
  language?: string | undefined;
  onboardingCompleted?: boolean | undefined;
}

/** What the per-request session check needs of a session and its user, in one row. */
export interface SessionRow {
  sessionId: string;
  expiresAt: Date;
  userId: string;
  email: string;
  role: PlatformRole;
  status: UserStatus;
  emailVerified: boolean;
}

/**
 * The session of a token with its user, in the shape of SessionRow. Every authenticated request
 * runs it, so it is a named prepared statement without the query builder (see Database.named):
 * Drizzle's prepared path still maps each row through its column decoders, which cost more Node
 * time than the database spends answering.
 */
export const SESSION_BY_TOKEN_SQL = `select s.id as "sessionId", s.expires_at as "expiresAt", u.id as "userId", u.email, u.role, u.status,
  u.email_verified as "emailVerified" from sessions s join users u on u.id = s.user_id where s.token = $1`;

export function createIdentityRepository(db: Executor, named: NamedQuery) {
  const userById = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .prepare('identity_user_by_id');

  return {
    async getById(id: string, tx?: Executor): Promise<User | undefined> {
      const [row] = tx ? await tx.select().from(users).where(eq(users.id, id)) : await userById.execute({ id });
      return row;
    },
    /** The session of a token with its user, whether or not it has expired. */
    async sessionByToken(token: string): Promise<SessionRow | undefined> {
      return (await named<SessionRow>('identity_session_by_token', SESSION_BY_TOKEN_SQL, [token]))[0];
    },
    /** Extends a session (BetterAuth's updateAge refresh); false when it is gone meanwhile. */
    async extendSession(token: string, expiresAt: Date): Promise<boolean> {
      const rows = await db.update(sessions).set({ expiresAt }).where(eq(sessions.token, token)).returning({ id: sessions.id });
      return rows.length > 0;
    },
    async deleteSessionByToken(token: string): Promise<void> {
      await db.delete(sessions).where(eq(sessions.token, token));
    },
    async getByEmail(email: string, tx: Executor = db): Promise<User | undefined> {
      const [row] = await tx.select().from(users).where(eq(users.email, email.toLowerCase()));
      return row;
    },
    async update(id: string, patch: ProfilePatch & { role?: PlatformRole; status?: UserStatus }, tx: Executor = db): Promise<User | undefined> {
      const [row] = await tx.update(users).set(patch).where(eq(users.id, id)).returning();
      return row;
    },
    async touchLastLogin(id: string): Promise<void> {
      await db.update(users).set({ lastLoginAt: sql`now()` }).where(eq(users.id, id));
    },
    async markEmailVerified(id: string): Promise<void> {
      await db
        .update(users)
        .set({ emailVerified: true, emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` })
        .where(eq(users.id, id));
    },
    async softDelete(id: string, tx: Executor = db): Promise<void> {
      await tx.update(users).set({ status: 'deleted', deletedAt: sql`now()` }).where(eq(users.id, id));
    },
    async list(filter: { role?: PlatformRole | undefined; email?: string | undefined; before?: string | undefined; limit: number }): Promise<User[]> {
      return db
        .select()
        .from(users)
        .where(
          and(
            filter.role ? eq(users.role, filter.role) : undefined,
            filter.email ? ilike(users.email, `%${filter.email.replace(/[%_\\]/g, '\\$&')}%`) : undefined,
            filter.before ? lt(users.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(users.id))
        .limit(filter.limit + 1);
    },
    async listSessions(userId: string): Promise<Session[]> {
      return db
        .select()
        .from(sessions)
        .where(and(eq(sessions.userId, userId), sql`${sessions.expiresAt} > now()`))
        .orderBy(desc(sessions.createdAt));
    },
    async deleteSession(userId: string, sessionId: string): Promise<boolean> {
      const rows = await db
        .delete(sessions)
        .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)))
        .returning({ id: sessions.id });
      return rows.length > 0;
    },
    /** Expired sessions and one-time tokens are of no use to anyone (the maintenance job). */
    async purgeExpired(): Promise<void> {
      await db.delete(sessions).where(sql`${sessions.expiresAt} < now()`);
      await db.delete(verifications).where(sql`${verifications.expiresAt} < now()`);
    },
    async deleteSessions(userId: string, exceptSessionId?: string, tx: Executor = db): Promise<void> {
      await tx
        .delete(sessions)
        .where(and(eq(sessions.userId, userId), exceptSessionId ? ne(sessions.id, exceptSessionId) : undefined));
    },
  };
}
export type IdentityRepository = ReturnType<typeof createIdentityRepository>;
