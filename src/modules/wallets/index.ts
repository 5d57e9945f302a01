export { createWalletRepository, type WalletRepository, type Transaction } from './wallets.repository.ts';
export { createWalletService, type WalletService, type SpendInput } from './wallets.service.ts';
export { walletRoutes } from './wallets.routes.ts';
