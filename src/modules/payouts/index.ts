/**
 * Payouts: the marketplace's payouts and Pay as Play's withdrawals, one mechanism. Request
 * (money held in payout clearing) → operator approval → the payout provider → completed (sent)
 * or failed (money returned); cancelled by the requester while pending.
 */
export { createPayoutRepository, type Payout, type PayoutRepository } from './payouts.repository.ts';
export {
  createPayoutService,
  type PayoutService,
  type PayoutSettings,
  type PayoutsBlockedBy,
  type RequestPayoutInput,
} from './payouts.service.ts';
export {
  payoutRoutes,
  payoutSchema,
  payoutSettingsSchema,
  toPayoutDto,
  toPayoutSettingsDto,
} from './payouts.routes.ts';
export {
  SandboxPayoutProvider,
  type PayoutProvider,
  type PayoutDestination,
  type SendPayoutInput,
  type SendPayoutResult,
} from './payouts.provider.ts';
export {
  checkIban,
  checkRoutingNumber,
  cryptoAddressProblem,
  cryptoNetworks,
  normalizeDestination,
  toChecksumAddress,
  type CryptoNetwork,
  type DestinationInput,
} from './destinations.ts';
