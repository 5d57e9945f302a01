import type { Services } from './app.ts';

export const DEMO_PASSWORD = 'fanfare-demo-2026';

export const demoAccounts = [
  { email: 'operator@fanfare.local', name: 'Olivia Operator', role: 'admin' },
  { email: 'creator@fanfare.local', name: 'Cara Creator', role: 'creator' },
  { email: 'customer@fanfare.local', name: 'Cody Customer', role: 'customer' },
  { email: 'partner@fanfare.local', name: 'Pat Partner', role: 'partner' },
] as const;

/**
 * Demo data for a first start: one account per platform role, a creator organization with two
 * published pieces (one free, one for sale), an agency with a client account, a partner
 * organization with a Pay as Play platform, and demo credit in the customer's wallet. Does
 * nothing when the demo operator exists.
 */
export async function seedDemoData(services: Services): Promise<{ created: boolean }> {
  const { identity, organizations } = services;
  const existing = await services.db.query.users.findFirst({ where: (u, { eq }) => eq(u.email, demoAccounts[0].email) });
  if (existing) return { created: false };

  const users: Record<string, string> = {};
  for (const a of demoAccounts) {
    const user = await identity.createUser({ email: a.email, password: DEMO_PASSWORD, name: a.name, role: a.role });
    users[a.role] = user.id;
  }
  const creator = await identity.systemActorFor(users.creator!);
  const studio = await organizations.create(creator, { name: 'Demo Studio', slug: 'demo-studio', type: 'creator' });
  const free = await services.content.create(creator, {
    organizationId: studio.id,
    contentType: 'written',
    title: 'Welcome to Demo Studio',
    description: 'A free article: what this studio makes and how to follow along.',
    contentBody: '<p>Welcome! Everything here is demo data created on first start.</p>',
    category: 'news',
    tags: ['welcome'],
    visibility: 'public',
  });
  await services.content.setStatus(creator, free.id, 'published');
  const paid = await services.content.create(creator, {
    organizationId: studio.id,
    contentType: 'written',
    title: 'The mixing handbook',
    description: 'A guide for sale: buy it with the sandbox card pm_card_visa to try checkout.',
    contentBody: '<p>Chapter one: gain staging.</p>',
    category: 'guides',
    tags: ['audio', 'mixing'],
    visibility: 'purchased_only',
    priceCents: 499,
    currency: 'USD',
  });
  await services.content.setStatus(creator, paid.id, 'published');
  const agency = await organizations.create(creator, { name: 'Demo Agency', slug: 'demo-agency', type: 'agency', companySize: '1-10' });
  await organizations.createClient(creator, agency.id, { name: 'Acme Coffee', contactEmail: 'hello@acme-coffee.example', brandColors: { primary: '#6b3e26' } });
  const partner = await identity.systemActorFor(users.partner!);
  const partnerOrg = await organizations.create(partner, { name: 'Demo Partner Platform', slug: 'demo-partner', type: 'partner' });
  await services.payplay.createPlatform(partner, partnerOrg.id, { name: 'Demo Stream', type: 'video', currency: 'USD', pricePerMinute: 10 });
  // Demo credit, so Pay as Play sessions and wallet purchases can be tried at once.
  const { ledger } = services;
  const wallet = await ledger.wallet({ userId: users.customer! }, 'USD');
  await ledger.transfer({
    key: 'demo:customer-credit',
    kind: 'adjustment',
    currency: 'USD',
    description: 'Demo credit',
    legs: [
      { accountId: await ledger.platformAccount('adjustments', 'USD'), amount: -2500 },
      { accountId: wallet.available, amount: 2500 },
    ],
  });
  return { created: true };
}
