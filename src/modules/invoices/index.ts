export {
  createInvoiceRepository,
  type Invoice,
  type InvoiceLine,
  type InvoiceRepository,
} from './invoices.repository.ts';
export {
  createInvoiceService,
  priceInvoice,
  formatInvoiceNumber,
  type InvoiceService,
  type Issuer,
  type DraftInput,
  type InvoiceWithLines,
} from './invoices.service.ts';
export { invoiceRoutes, toInvoiceDto } from './invoices.routes.ts';
export { renderInvoiceHtml, renderInvoicePdf } from './invoices.render.ts';
