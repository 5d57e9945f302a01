export { createWalletRepository, type WalletRepository, type Transaction } from './wallets.repository.ts';
export { createWalletService, type WalletService, type SpendInput } from './wallets.service.ts';
export { walletRoutes } from './wallets.routes.ts';
/**
 * A sale, for every module that sells (creator media, marketplace): call inside the transaction
 * that settles the purchase, typically a payment's `succeeded` handler, and return its transferId:
 *
 *   const { transferId, split } = await sales.record({
 *     key: `payment:${payment.id}:captured`, seller: { userId: sellerId }, buyerId,
 *     amount: payment.amount, currency: payment.currency, paymentMethod: payment.paymentMethod,
 *     commission: { plan: 'standard' },          // or { bps: platformFeeBps(...).bps }
 *     type: 'product_purchase', reference: { type: 'order', id: order.id },
 *   }, tx);
 *
 * One ledger transfer: provider clearing (net of the processing fee) → seller's pending balance
 * (held ESCROW_DAYS, then released to available by the ledger.release-holds job) + platform
 * revenue (commission). The split is a snapshot on the transfer and the seller's history line.
 * Replays of `key` move nothing and answer the first sale.
 */
export { createSaleService, type SaleService, type SaleInput, type SaleResult } from './sales.ts';
