import type { FastifyRateLimitOptions, FastifyRateLimitStore } from '@fastify/rate-limit';
import { lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rateLimits } from './core.schema.ts';

/**
 * A @fastify/rate-limit store on Postgres: one upsert per attempt counts it and says how long the
 * window still runs. Unlike the in-memory default, a restart or a second server process does not
 * hand an attacker a fresh allowance.
 */
export function postgresRateLimitStore(db: Db) {
  return class PostgresRateLimitStore implements FastifyRateLimitStore {
    constructor(
      _options?: FastifyRateLimitOptions,
      private readonly prefix = '',
    ) {}

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const k = `${this.prefix}${key}`;
      db.insert(rateLimits)
        .values({ key: k, count: 1, windowEndsAt: sql`now() + make_interval(secs => ${timeWindow / 1000})` })
        .onConflictDoUpdate({
          target: rateLimits.key,
          set: {
            count: sql`case when ${rateLimits.windowEndsAt} <= now() then 1 else ${rateLimits.count} + 1 end`,
            windowEndsAt: sql`case when ${rateLimits.windowEndsAt} <= now() then now() + make_interval(secs => ${timeWindow / 1000}) else ${rateLimits.windowEndsAt} end`,
          },
        })
        .returning({ count: rateLimits.count, ttl: sql<string>`ceil(extract(epoch from (${rateLimits.windowEndsAt} - now())) * 1000)` })
        .then(
          ([row]) => callback(null, { current: row!.count, ttl: Math.max(0, Number(row!.ttl)) }),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
    }

    child(routeOptions: { path: string; prefix: string }): FastifyRateLimitStore {
      return new PostgresRateLimitStore(undefined, `${routeOptions.path}|`);
    }
  };
}

/** Forgets windows that have ended (the maintenance job). */
export async function purgeRateLimits(db: Db): Promise<void> {
  await db.delete(rateLimits).where(lt(rateLimits.windowEndsAt, sql`now()`));
}
