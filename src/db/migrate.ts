import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import type { Database } from './client.ts';

export const migrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

// Any fixed number; the advisory lock keeps two servers starting at once from migrating together.
const MIGRATION_LOCK = 781_100_001;

export async function runMigrations(database: Database): Promise<void> {
  if (database.engine === 'pglite') {
    await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder });
    return;
  }
  // Migrate on the very connection that holds the lock: with a pool of one, a second connection
  // would never come.
  const client = await database.pool!.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migratePg(drizzle({ client }), { migrationsFolder });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** Whether every migration in the folder has been applied. */
export async function migrationStatus(database: Database): Promise<{ current: boolean; applied: number; expected: number }> {
  const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as {
    entries: { when: number }[];
  };
  const expected = journal.entries.length;
  const lastWhen = Math.max(...journal.entries.map((e) => e.when));
  try {
    const { rows } = await database.raw.query<{ n: string; last: string | null }>(
      'select count(*)::text as n, max(created_at)::text as last from drizzle.__drizzle_migrations',
    );
    const applied = Number(rows[0]?.n ?? 0);
    return { current: Number(rows[0]?.last ?? 0) >= lastWhen, applied, expected };
  } catch {
    return { current: false, applied: 0, expected };
  }
}
