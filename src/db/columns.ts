import { sql, type SQL } from 'drizzle-orm';
import { timestamp, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { newId } from '../core/ids.ts';

/** Primary key: a UUIDv7 made by us (time-ordered, so keyset pagination by id follows creation). */
export const id = () => uuid().primaryKey().$defaultFn(newId);

export const tz = () => timestamp({ withTimezone: true, mode: 'date' });

/** created_at / updated_at kept by the database: updated_at by the set_updated_at trigger. */
export const timestamps = () => ({
  createdAt: tz().notNull().defaultNow(),
  updatedAt: tz().notNull().defaultNow(),
});

/** `column IN ('a','b')` for CHECK constraints over a closed enumeration of the seeds. */
export function oneOf(col: AnyPgColumn, values: readonly string[]): SQL {
  return sql`${col} in (${sql.join(
    values.map((v) => sql.raw(`'${v.replace(/'/g, "''")}'`)),
    sql`, `,
  )})`;
}

export const isLowercase = (col: AnyPgColumn): SQL => sql`${col} = lower(${col})`;
