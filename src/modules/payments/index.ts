export { createPaymentRepository, type Payment, type Refund, type PaymentRepository } from './payments.repository.ts';
export { createPaymentService, type PaymentService, type PurposeHandler, type CreatedPayment, type Settled } from './payments.service.ts';
export { SandboxProvider, signSandboxPayload, SANDBOX_SIGNATURE_HEADER, sandboxPaymentMethods } from './sandbox.provider.ts';
export { paymentRoutes, paymentSchema, toPaymentDto } from './payments.routes.ts';
export type { PaymentProvider } from './provider.ts';
export { StripeProvider, createStripeProvider } from './stripe.provider.ts';
