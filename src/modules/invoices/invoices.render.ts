import PDFDocument from 'pdfkit';
import { formatMoney } from '../../core/money.ts';
import { escapeHtml } from '../identity/index.ts';
import type { InvoiceWithLines } from './invoices.service.ts';
import type { BillingAddress } from './invoices.schema.ts';

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '—');
const bpsAsPercent = (bps: number) => `${(bps / 100).toFixed(bps % 100 ? 2 : 0)}%`;

function addressLines(a: BillingAddress | null, country: string | null): string[] {
  const out = [
    a?.line1,
    a?.line2,
    [a?.postalCode, a?.city].filter(Boolean).join(' '),
    a?.state,
    country,
  ].filter((s): s is string => !!s && s.trim() !== '');
  return out;
}

function party(
  name: string,
  address: BillingAddress | null,
  country: string | null,
  taxId: string | null,
  email: string | null,
): string[] {
  return [
    name,
    ...addressLines(address, country),
    ...(taxId ? [`Tax id: ${taxId}`] : []),
    ...(email ? [email] : []),
  ];
}

/** What both renderings show, in display form. */
function view(
  { invoice: i, lines }: InvoiceWithLines,
  m: (n: number) => string = (n) => formatMoney(n, i.currency),
) {
  return {
    title: i.invoiceNumber ? `Invoice ${i.invoiceNumber}` : 'Draft invoice',
    status: i.status,
    facts: [
      ['Invoice number', i.invoiceNumber ?? 'not yet numbered (draft)'],
      ['Issued', day(i.issuedAt)],
      ['Due', day(i.dueAt)],
      ...(i.paidAt ? [['Paid', day(i.paidAt)]] : []),
      ...(i.voidedAt ? [['Voided', day(i.voidedAt)]] : []),
    ] as [string, string][],
    issuer: party(i.issuerName, i.issuerAddress, i.issuerCountry, i.issuerTaxId, i.issuerEmail),
    customer: party(i.billingName, i.billingAddress, i.billingCountry, i.customerTaxId, i.billingEmail),
    lines: lines.map((l) => ({
      description: l.description,
      quantity: String(l.quantity),
      unit: m(l.unitAmount),
      amount: m(l.amount),
    })),
    totals: [
      ['Subtotal', m(i.subtotal)],
      ...i.taxLines.map((t) => [`${t.name} ${bpsAsPercent(t.rateBps)}`, m(t.amount)] as [string, string]),
      ['Total', m(i.totalAmount)],
    ] as [string, string][],
    notes: i.notes,
  };
}

/** A printable page; every value from the invoice is escaped. */
export function renderInvoiceHtml(doc: InvoiceWithLines): string {
  const v = view(doc);
  const e = escapeHtml;
  const block = (title: string, rows: string[]) =>
    `<section class="party"><h2>${e(title)}</h2>${rows.map((r, i) => (i ? `<div>${e(r)}</div>` : `<div class="name">${e(r)}</div>`)).join('')}</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(v.title)}</title>
<style>
body{font-family:system-ui,sans-serif;color:#111;max-width:50rem;margin:2rem auto;padding:0 1rem}
h1{margin:0 0 .25rem}.status{display:inline-block;padding:.1rem .5rem;border:1px solid #555;border-radius:.25rem;text-transform:uppercase;font-size:.8rem}
.parties{display:flex;gap:2rem;margin:1.5rem 0}.party{flex:1}.party h2{font-size:.8rem;text-transform:uppercase;color:#555;margin:0 0 .25rem}.name{font-weight:600}
table{width:100%;border-collapse:collapse}th,td{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}td.n,th.n{text-align:right}
.totals td{border:none}.totals tr:last-child td{font-weight:700;border-top:2px solid #111}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#555}
@media print{body{margin:0}.status{border-color:#000}}
</style></head>
<body>
<header><h1>${e(v.title)}</h1><span class="status">${e(v.status)}</span></header>
<dl>${v.facts.map(([k, val]) => `<dt>${e(k)}</dt><dd>${e(val)}</dd>`).join('')}</dl>
<div class="parties">${block('From', v.issuer)}${block('Bill to', v.customer)}</div>
<table><thead><tr><th>Description</th><th class="n">Quantity</th><th class="n">Unit price</th><th class="n">Amount</th></tr></thead>
<tbody>${v.lines.map((l) => `<tr><td>${e(l.description)}</td><td class="n">${e(l.quantity)}</td><td class="n">${e(l.unit)}</td><td class="n">${e(l.amount)}</td></tr>`).join('')}</tbody></table>
<table class="totals"><tbody>${v.totals.map(([k, val]) => `<tr><td class="n">${e(k)}</td><td class="n">${e(val)}</td></tr>`).join('')}</tbody></table>
${v.notes ? `<p class="notes">${e(v.notes)}</p>` : ''}
</body></html>`;
}

/** The same content as a PDF (pdfkit, built-in Helvetica, A4). */
export function renderInvoicePdf(doc: InvoiceWithLines): Promise<Buffer> {
  // The built-in fonts cover WinAnsi only: a symbol outside it (₹) is written as the currency code.
  const v = view(doc, (n) => {
    const s = formatMoney(n, doc.invoice.currency);
    return /^[\x20-\x7e\u00a0-\u00ff€]*$/.test(s)
      ? s
      : `${doc.invoice.currency} ${s.replace(/[^\d.,-]/g, '')}`;
  });
  const pdf = new PDFDocument({
    size: 'A4',
    margin: 50,
    info: {
      Title: v.title,
      Author: doc.invoice.issuerName,
      Subject: `${v.title} to ${doc.invoice.billingName}`,
    },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  const left = 50;
  const width = pdf.page.width - 100;
  pdf.font('Helvetica-Bold').fontSize(20).text(v.title, left, 50);
  pdf.font('Helvetica').fontSize(10).text(v.status.toUpperCase());
  pdf.moveDown();
  for (const [k, val] of v.facts) pdf.text(`${k}: ${val}`);
  pdf.moveDown();
  const top = pdf.y;
  const col = width / 2;
  pdf.font('Helvetica-Bold').text('From', left, top, { width: col - 10 });
  pdf.font('Helvetica').text(v.issuer.join('\n'), { width: col - 10 });
  const afterIssuer = pdf.y;
  pdf.font('Helvetica-Bold').text('Bill to', left + col, top, { width: col - 10 });
  pdf.font('Helvetica').text(v.customer.join('\n'), { width: col - 10 });
  pdf.y = Math.max(afterIssuer, pdf.y) + 20;
  const cols = [
    { x: left, w: width * 0.46, align: 'left' as const },
    { x: left + width * 0.46, w: width * 0.14, align: 'right' as const },
    { x: left + width * 0.6, w: width * 0.2, align: 'right' as const },
    { x: left + width * 0.8, w: width * 0.2, align: 'right' as const },
  ];
  const row = (cells: string[], bold = false) => {
    const y = pdf.y;
    if (y > pdf.page.height - 100) pdf.addPage();
    const at = pdf.y;
    let bottom = at;
    pdf.font(bold ? 'Helvetica-Bold' : 'Helvetica');
    cells.forEach((c, i) => {
      const cdef = cols[i]!;
      pdf.text(c, cdef.x, at, { width: cdef.w, align: cdef.align });
      bottom = Math.max(bottom, pdf.y);
    });
    pdf.y = bottom + 4;
  };
  row(['Description', 'Quantity', 'Unit price', 'Amount'], true);
  for (const l of v.lines) row([l.description, l.quantity, l.unit, l.amount]);
  pdf.moveDown();
  v.totals.forEach(([k, val], i) => row(['', '', k, val], i === v.totals.length - 1));
  if (v.notes) {
    pdf.moveDown();
    pdf.font('Helvetica').text(v.notes, left, pdf.y, { width });
  }
  pdf.end();
  return done;
}
