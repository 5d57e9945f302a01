import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything a repository can run a query on: the database or an open transaction. */
export type Executor = Db | Tx;

export type Engine = 'pglite' | 'postgres';

/** The rows of a Drizzle `execute` result: both drivers answer with an object holding `rows`. */
export const rowsOf = <T>(result: unknown): T[] => (result as { rows: T[] }).rows;

/** A raw SQL runner both engines provide; used by the job queue and by the benchmarks' baselines. */
export interface RawSql {
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: T[] }>;
}

/**
 * A hot-path statement: on the server a named prepared statement (parsed and planned once per
 * connection, no query builder in between); on the embedded engine, which has one connection and
 * no named statements in its API, a plain parameterised query.
 */
export type NamedQuery = <T>(name: string, text: string, values: unknown[]) => Promise<T[]>;

export interface Database {
  readonly engine: Engine;
  readonly db: Db;
  readonly raw: RawSql;
  readonly named: NamedQuery;
  /** Present on the server engine: the pool, for code that needs its own client. */
  readonly pool?: pg.Pool;
  /** Present on the embedded engine. */
  readonly pglite?: PGlite;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL of a server; when absent the embedded engine is used. */
  url?: string | undefined;
  /** Directory of the embedded database; `undefined` means in memory. */
  dataDir?: string | undefined;
  /** A ready PGlite instance (tests load one from a migrated template). */
  pglite?: PGlite;
  poolSize?: number;
}

// Timestamps come back as Date objects and bigints as strings on both engines; money columns are
// bigint minor units parsed explicitly where read.
export function openDatabase(opts: DatabaseOptions): Database {
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    // An idle client that loses its server connection must not crash the process.
    pool.on('error', () => undefined);
    const db = drizzlePg({ client: pool, schema, casing: 'snake_case' }) as unknown as Db;
    return {
      engine: 'postgres',
      db,
      pool,
      raw: { query: async (text, values) => pool.query(text, values as unknown[]) as never },
      named: async <T>(name: string, text: string, values: unknown[]) => (await pool.query({ name, text, values })).rows as T[],
      close: () => pool.end(),
    };
  }
  let client = opts.pglite;
  if (!client) {
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
    client = new PGlite(opts.dataDir);
  }
  const pgl = client;
  const db = drizzlePglite({ client: pgl, schema, casing: 'snake_case' }) as unknown as Db;
  return {
    engine: 'pglite',
    db,
    pglite: pgl,
    raw: {
      // PGlite's extended protocol takes one statement; parameterless scripts (pg-boss's schema
      // set-up) go through exec, which answers every statement, and we return the last one.
      query: async (text, values) => {
        if (values && values.length) return pgl.query(text, values) as never;
        const results = await pgl.exec(text);
        return { rows: results.at(-1)?.rows ?? [] } as never;
      },
    },
    named: async <T>(_name: string, text: string, values: unknown[]) => (await pgl.query<T>(text, values)).rows,
    close: () => pgl.close(),
  };
}
