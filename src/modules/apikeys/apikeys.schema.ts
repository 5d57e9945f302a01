import { index, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';

/** Organization API keys for partner integrations. Only a sha256 of the key is kept. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: varchar({ length: 100 }).notNull(),
    /** The first characters of the key, shown in lists so people can tell keys apart. */
    start: varchar({ length: 16 }).notNull(),
    keyHash: varchar({ length: 64 }).notNull(),
    scopes: text().array().notNull(),
    createdBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    lastUsedAt: tz(),
    expiresAt: tz(),
    revokedAt: tz(),
    revokedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    ...timestamps(),
  },
  (t) => [uniqueIndex('api_keys_key_hash_unique').on(t.keyHash), index('idx_api_keys_org').on(t.organizationId)],
);
