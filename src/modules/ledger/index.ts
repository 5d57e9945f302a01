export { createLedgerRepository, type LedgerRepository, type Wallet, type WalletSettingsPatch, type LedgerTransfer } from './ledger.repository.ts';
export { createLedgerService, insufficientFunds, type LedgerService, type Leg, type TransferInput, type WalletAccounts } from './ledger.service.ts';
export { reconcile, type ReconcileReport } from './reconcile.ts';
export type { AccountKind, TransferKind } from './ledger.schema.ts';
