import type { Services } from './app.ts';

export const DEMO_PASSWORD = 'fanfare-demo-2026';

export const demoAccounts = [
  { email: 'operator@fanfare.local', name: 'Olivia Operator', role: 'admin' },
  { email: 'creator@fanfare.local', name: 'Cara Creator', role: 'creator' },
  { email: 'customer@fanfare.local', name: 'Cody Customer', role: 'customer' },
  { email: 'partner@fanfare.local', name: 'Pat Partner', role: 'partner' },
] as const;

/**
 * Demo data for a first start: one account per platform role, a creator organization, an agency
 * with a client account and a partner organization. Does nothing when the demo operator exists.
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
  await organizations.create(creator, { name: 'Demo Studio', slug: 'demo-studio', type: 'creator' });
  const agency = await organizations.create(creator, { name: 'Demo Agency', slug: 'demo-agency', type: 'agency', companySize: '1-10' });
  await organizations.createClient(creator, agency.id, { name: 'Acme Coffee', contactEmail: 'hello@acme-coffee.example', brandColors: { primary: '#6b3e26' } });
  const partner = await identity.systemActorFor(users.partner!);
  await organizations.create(partner, { name: 'Demo Partner Platform', slug: 'demo-partner', type: 'partner' });
  return { created: true };
}
