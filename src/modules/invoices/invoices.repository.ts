import { and, asc, desc, eq, inArray, isNull, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Db, type Executor } from '../../db/client.ts';
import { invoiceLineItems, invoiceNumberCounters, invoices, type InvoiceStatus } from './invoices.schema.ts';

export type Invoice = typeof invoices.$inferSelect;
export type NewInvoice = typeof invoices.$inferInsert;
export type InvoiceLine = typeof invoiceLineItems.$inferSelect;
export type NewInvoiceLine = Omit<typeof invoiceLineItems.$inferInsert, 'invoiceId' | 'position'>;

export interface ListFilter {
  before?: string | undefined;
  limit: number;
  status?: InvoiceStatus | undefined;
  /** Drafts are the issuer's alone. */
  excludeDrafts?: boolean | undefined;
}

/** Who an invoice is listed for: its issuer, or its customer (a user, by id or verified e-mail, or an organization). */
export type ListScope =
  | { issuer: 'platform' }
  | { issuer: 'organization'; organizationId: string }
  | { customerUserId: string; customerEmail: string | null }
  | { customerOrganizationId: string };

export function createInvoiceRepository(db: Db) {
  const scopeWhere = (s: ListScope): SQL | undefined => {
    if ('issuer' in s) {
      return s.issuer === 'platform'
        ? eq(invoices.issuerType, 'platform')
        : eq(invoices.organizationId, s.organizationId);
    }
    if ('customerOrganizationId' in s) return eq(invoices.customerOrganizationId, s.customerOrganizationId);
    return s.customerEmail
      ? or(
          eq(invoices.userId, s.customerUserId),
          and(isNull(invoices.userId), eq(invoices.billingEmail, s.customerEmail)),
        )
      : eq(invoices.userId, s.customerUserId);
  };

  return {
    async insert(row: NewInvoice, tx: Executor = db): Promise<Invoice> {
      const [out] = await tx.insert(invoices).values(row).returning();
      return out!;
    },
    /** Inserts unless an invoice with the same source key exists; answers undefined then. */
    async insertUnlessSource(row: NewInvoice, tx: Executor = db): Promise<Invoice | undefined> {
      const [out] = await tx
        .insert(invoices)
        .values(row)
        .onConflictDoNothing({ target: invoices.sourceKey })
        .returning();
      return out;
    },
    async bySourceKey(sourceKey: string, tx: Executor = db): Promise<Invoice | undefined> {
      const [out] = await tx.select().from(invoices).where(eq(invoices.sourceKey, sourceKey));
      return out;
    },
    async get(id: string, tx: Executor = db): Promise<Invoice | undefined> {
      const [out] = await tx.select().from(invoices).where(eq(invoices.id, id));
      return out;
    },
    async lock(id: string, tx: Executor): Promise<Invoice | undefined> {
      const [out] = await tx.select().from(invoices).where(eq(invoices.id, id)).for('update');
      return out;
    },
    async update(id: string, patch: Partial<NewInvoice>, tx: Executor = db): Promise<Invoice> {
      const [out] = await tx.update(invoices).set(patch).where(eq(invoices.id, id)).returning();
      return out!;
    },
    /** Moves an invoice on only from the statuses given; undefined when it was not in one of them. */
    async transition(
      id: string,
      from: InvoiceStatus[],
      patch: Partial<NewInvoice>,
      tx: Executor = db,
    ): Promise<Invoice | undefined> {
      const [out] = await tx
        .update(invoices)
        .set(patch)
        .where(and(eq(invoices.id, id), inArray(invoices.status, from)))
        .returning();
      return out;
    },
    async list(scope: ListScope, f: ListFilter): Promise<Invoice[]> {
      return db
        .select()
        .from(invoices)
        .where(
          and(
            scopeWhere(scope),
            f.status ? eq(invoices.status, f.status) : undefined,
            f.excludeDrafts ? ne(invoices.status, 'draft') : undefined,
            f.before ? lt(invoices.id, f.before) : undefined,
          ),
        )
        .orderBy(desc(invoices.id))
        .limit(f.limit + 1);
    },

    async lines(invoiceId: string, tx: Executor = db): Promise<InvoiceLine[]> {
      return tx
        .select()
        .from(invoiceLineItems)
        .where(eq(invoiceLineItems.invoiceId, invoiceId))
        .orderBy(asc(invoiceLineItems.position));
    },
    /** Replaces every line of an invoice, numbered in the order given. */
    async replaceLines(invoiceId: string, lines: NewInvoiceLine[], tx: Executor): Promise<InvoiceLine[]> {
      await tx.delete(invoiceLineItems).where(eq(invoiceLineItems.invoiceId, invoiceId));
      if (!lines.length) return [];
      return tx
        .insert(invoiceLineItems)
        .values(lines.map((l, i) => ({ ...l, invoiceId, position: i + 1 })))
        .returning();
    },

    /**
     * The next number of an issuer's year, counted on its counter row in `tx`: the row stays locked
     * until `tx` ends, and a rollback gives the number back.
     */
    async nextNumber(issuerKey: string, year: number, tx: Executor): Promise<number> {
      const [row] = await tx
        .insert(invoiceNumberCounters)
        .values({ issuerKey, year, lastNumber: 1 })
        .onConflictDoUpdate({
          target: [invoiceNumberCounters.issuerKey, invoiceNumberCounters.year],
          set: { lastNumber: sql`${invoiceNumberCounters.lastNumber} + 1` },
        })
        .returning({ lastNumber: invoiceNumberCounters.lastNumber });
      return row!.lastNumber;
    },

    /** Reconciliation: numbered invoices whose sequence has a gap or a repeat, per issuer and year. */
    async numberingGaps(): Promise<
      { issuer: string; year: number; count: string; max: number; counter: number | null }[]
    > {
      return rowsOf(
        await db.execute(
          sql`select i.issuer, i.year, i.count::text as count, i.max, c.last_number as counter
              from (select coalesce(organization_id::text, 'platform') as issuer, number_year as year,
                           count(distinct number_sequence) as count, count(*) as n, max(number_sequence) as max
                      from invoices where number_sequence is not null group by 1, 2) i
              left join invoice_number_counters c on c.issuer_key = i.issuer and c.year = i.year
             where i.count <> i.max or i.n <> i.count or c.last_number is distinct from i.max limit 100`,
        ),
      );
    },
    /** Reconciliation: invoices whose total is not the sum of their lines and taxes. */
    async totalMismatches(): Promise<{ id: string }[]> {
      return rowsOf(
        await db.execute(
          sql`select i.id from invoices i
              left join (select invoice_id, sum(amount) as s from invoice_line_items group by invoice_id) l on l.invoice_id = i.id
             where i.subtotal <> coalesce(l.s, 0)
                or i.tax_amount <> coalesce((select sum((t->>'amount')::bigint) from jsonb_array_elements(i.tax_lines) t), 0)
             limit 100`,
        ),
      );
    },
  };
}
export type InvoiceRepository = ReturnType<typeof createInvoiceRepository>;
