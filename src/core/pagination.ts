import { z } from 'zod';
import { AppError } from './errors.ts';
import { isUuid } from './ids.ts';

/** The one way to page a list: `?limit=&cursor=`, newest first, keyset on the time-ordered id. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
export type PageQuery = z.infer<typeof pageQuery>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export function encodeCursor(id: string): string {
  return Buffer.from(JSON.stringify({ id }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { id?: unknown };
    // Only a real UUID: the id is compared with a uuid column, and anything else fails in the database.
    if (typeof parsed.id === 'string' && isUuid(parsed.id)) return parsed.id;
  } catch {
    // fall through to the error below
  }
  throw new AppError('bad_request', 'cursor is not valid', { fields: [{ path: 'querystring.cursor', message: 'not a cursor' }] });
}

/** Repositories fetch `limit + 1` rows; this turns them into a page. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
