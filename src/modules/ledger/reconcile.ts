import type { LedgerRepository } from './ledger.repository.ts';

/** One invariant: answers a line per violation, nothing when it holds. */
export interface InvariantCheck {
  name: string;
  run(): Promise<string[]>;
}

export interface ReconcileReport {
  ok: boolean;
  checks: { name: string; ok: boolean; problems: string[] }[];
}

/**
 * Checks every money invariant: each transfer sums to zero (and has two legs or more), each
 * account's balance equals the sum of its entries, no account that may not go negative is, each
 * wallet mirrors its accounts, each pending balance equals its live holds, no hold is past its
 * release time, plus the checks other modules add (every succeeded payment has its transfer).
 */
export async function reconcile(repo: LedgerRepository, extra: InvariantCheck[] = [], opts: { holdGraceSeconds?: number } = {}): Promise<ReconcileReport> {
  const grace = opts.holdGraceSeconds ?? 600;
  const checks: InvariantCheck[] = [
    { name: 'every transfer sums to zero', run: async () => (await repo.unbalancedTransfers()).map((r) => `transfer ${r.id} sums to ${r.sum} (or has fewer than two entries)`) },
    {
      name: 'every balance equals the sum of its entries',
      run: async () => (await repo.driftedAccounts()).map((r) => `account ${r.id} (${r.kind}) holds ${r.balance} but its entries sum to ${r.entries}`),
    },
    { name: 'no forbidden negative balance', run: async () => (await repo.negativeAccounts()).map((r) => `account ${r.id} (${r.kind}) is at ${r.balance}`) },
    {
      name: 'every wallet mirrors its accounts',
      run: async () => (await repo.driftedWallets()).map((r) => `wallet ${r.id} shows ${r.balance} but its accounts hold ${r.available} available, ${r.pending} pending`),
    },
    {
      name: 'every pending balance equals its live holds',
      run: async () => (await repo.pendingBalanceWithoutHolds()).map((r) => `wallet ${r.wallet_id} has ${r.pending} pending but holds of ${r.held}`),
    },
    {
      name: `no hold past its release time (grace ${grace} s)`,
      run: async () => (await repo.overdueHolds(grace)).map((r) => `hold ${r.id} was due at ${new Date(r.release_at).toISOString()}`),
    },
    ...extra,
  ];
  const results = [];
  for (const c of checks) {
    const problems = await c.run();
    results.push({ name: c.name, ok: problems.length === 0, problems });
  }
  return { ok: results.every((r) => r.ok), checks: results };
}
