import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import {
  createTestContext,
  type LightMyRequestResponse,
  type TestContext,
  type TestUser,
} from '../../../test/helpers.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

/** A well-formed id that names nothing. */
const NOBODY = '01900000-0000-7000-8000-000000000000';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface AuditRow {
  action: string;
  user_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  metadata: Record<string, unknown>;
}

const errorPaths = (res: LightMyRequestResponse): string[] =>
  (res.json<{ errors?: { path: string }[] }>().errors ?? []).map((e) => e.path);

const send = (method: Method, url: string, token: string | undefined, payload?: InjectOptions['payload']) =>
  ctx.req({ method, url, ...(token ? { token } : {}), ...(payload !== undefined ? { payload } : {}) });

async function auditRows(orgId: string, action: string): Promise<AuditRow[]> {
  const { rows } = await ctx.database.raw.query<AuditRow>(
    'select action, user_id, resource_type, resource_id, metadata from audit_logs where organization_id = $1 and action = $2 order by id',
    [orgId, action],
  );
  return rows;
}

const invite = (
  by: TestUser,
  orgId: string,
  email: string,
  role: string,
  extra: Record<string, unknown> = {},
) => send('POST', `/v1/orgs/${orgId}/invitations`, by.token, { email, role, ...extra });

/** The token of the newest invitation mailed to `email`. */
async function mailedToken(email: string): Promise<string> {
  await ctx.drain();
  const mail = (await ctx.mailTo(email)).find((m) => m.subject.includes('invited'));
  const token = /"token": "([^"]+)"/.exec(mail?.text ?? '')?.[1];
  if (!token) throw new Error(`no invitation token mailed to ${email}`);
  return token;
}

const accept = (user: TestUser, token: string) =>
  send('POST', '/v1/invitations/accept', user.token, { token });

async function memberIdOf(owner: TestUser, orgId: string, userId: string): Promise<string> {
  const res = await send('GET', `/v1/orgs/${orgId}/members?limit=100`, owner.token);
  expect(res.statusCode).toBe(200);
  const found = res
    .json<{ items: { id: string; userId: string }[] }>()
    .items.find((m) => m.userId === userId);
  if (!found) throw new Error(`user ${userId} is not a member of ${orgId}`);
  return found.id;
}

async function newClient(by: TestUser, orgId: string, name: string): Promise<string> {
  const res = await send('POST', `/v1/orgs/${orgId}/clients`, by.token, { name });
  expect(res.statusCode).toBe(201);
  return res.json<{ id: string }>().id;
}

describe('input validation and authentication on every route', () => {
  let owner: TestUser;
  let orgId: string;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner, { type: 'agency' })).id;
  });

  // [route, method, url (ORG is replaced by a real organization id), payload, expected error paths]
  const badInput: [string, Method, string, unknown, string[]][] = [
    ['POST /v1/orgs (bad slug)', 'POST', '/v1/orgs', { name: 'Valid', slug: 'Not A Slug' }, ['body.slug']],
    ['POST /v1/orgs (missing name)', 'POST', '/v1/orgs', { slug: 'valid-slug' }, ['body.name']],
    ['POST /v1/orgs (unknown field)', 'POST', '/v1/orgs', { name: 'Valid', colour: 'red' }, ['body']],
    ['GET /v1/orgs/:orgId', 'GET', '/v1/orgs/not-a-uuid', undefined, ['params.orgId']],
    ['PATCH /v1/orgs/:orgId (bad slug)', 'PATCH', '/v1/orgs/ORG', { slug: '-dash-' }, ['body.slug']],
    ['PATCH /v1/orgs/:orgId (empty patch)', 'PATCH', '/v1/orgs/ORG', {}, ['body']],
    ['PATCH /v1/orgs/:orgId (bad id)', 'PATCH', '/v1/orgs/123', { name: 'x' }, ['params.orgId']],
    ['DELETE /v1/orgs/:orgId', 'DELETE', '/v1/orgs/123', undefined, ['params.orgId']],
    ['GET /v1/orgs/:orgId/members', 'GET', '/v1/orgs/ORG/members?limit=0', undefined, ['querystring.limit']],
    [
      'PATCH /v1/orgs/:orgId/members/:memberId (bad id)',
      'PATCH',
      '/v1/orgs/ORG/members/x',
      { role: 'creator' },
      ['params.memberId'],
    ],
    [
      'PATCH /v1/orgs/:orgId/members/:memberId (role owner)',
      'PATCH',
      `/v1/orgs/ORG/members/${NOBODY}`,
      { role: 'owner' },
      ['body.role'],
    ],
    [
      'DELETE /v1/orgs/:orgId/members/:memberId',
      'DELETE',
      '/v1/orgs/ORG/members/x',
      undefined,
      ['params.memberId'],
    ],
    [
      'POST /v1/orgs/:orgId/invitations (bad email)',
      'POST',
      '/v1/orgs/ORG/invitations',
      { email: 'nope', role: 'creator' },
      ['body.email'],
    ],
    [
      'POST /v1/orgs/:orgId/invitations (role owner)',
      'POST',
      '/v1/orgs/ORG/invitations',
      { email: 'a@example.com', role: 'owner' },
      ['body.role'],
    ],
    [
      'POST /v1/orgs/:orgId/invitations (unknown field)',
      'POST',
      '/v1/orgs/ORG/invitations',
      { email: 'a@example.com', role: 'creator', admin: true },
      ['body'],
    ],
    [
      'GET /v1/orgs/:orgId/invitations',
      'GET',
      '/v1/orgs/ORG/invitations?status=bogus',
      undefined,
      ['querystring.status'],
    ],
    [
      'DELETE /v1/orgs/:orgId/invitations/:invitationId',
      'DELETE',
      '/v1/orgs/ORG/invitations/x',
      undefined,
      ['params.invitationId'],
    ],
    ['POST /v1/invitations/accept', 'POST', '/v1/invitations/accept', { token: 'short' }, ['body.token']],
    [
      'POST /v1/orgs/:orgId/clients (bad email)',
      'POST',
      '/v1/orgs/ORG/clients',
      { name: 'C', contactEmail: 'nope' },
      ['body.contactEmail'],
    ],
    [
      'POST /v1/orgs/:orgId/clients (bad colour)',
      'POST',
      '/v1/orgs/ORG/clients',
      { name: 'C', brandColors: { primary: 'red' } },
      ['body.brandColors.primary'],
    ],
    [
      'GET /v1/orgs/:orgId/clients',
      'GET',
      '/v1/orgs/ORG/clients?limit=101',
      undefined,
      ['querystring.limit'],
    ],
    [
      'GET /v1/orgs/:orgId/clients/:clientId',
      'GET',
      '/v1/orgs/ORG/clients/x',
      undefined,
      ['params.clientId'],
    ],
    [
      'PATCH /v1/orgs/:orgId/clients/:clientId',
      'PATCH',
      `/v1/orgs/ORG/clients/${NOBODY}`,
      { contactPhone: 'call me' },
      ['body.contactPhone'],
    ],
    [
      'DELETE /v1/orgs/:orgId/clients/:clientId',
      'DELETE',
      '/v1/orgs/ORG/clients/x',
      undefined,
      ['params.clientId'],
    ],
  ];

  it.each(badInput)('%s answers 400 naming the field', async (_name, method, url, payload, paths) => {
    const res = await send(
      method,
      url.replace('ORG', orgId),
      owner.token,
      payload as InjectOptions['payload'],
    );
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(errorPaths(res)).toEqual(paths);
  });

  it('names the unknown field of a strict body in the error', async () => {
    const res = await send('POST', '/v1/orgs', owner.token, { name: 'Valid', colour: 'red' });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain('colour');
  });

  it('rejects a cursor that is not one with 400', async () => {
    const res = await send('GET', `/v1/orgs/${orgId}/members?cursor=garbage`, owner.token);
    expect(res.statusCode).toBe(400);
    expect(errorPaths(res)).toEqual([expect.stringMatching(/^(querystring\.)?cursor$/)]);
  });

  // Valid input without credentials: the refusal must be 401, not a 400 or 404.
  const unauthenticated: [string, Method, string, unknown][] = [
    ['POST /v1/orgs', 'POST', '/v1/orgs', { name: 'Anonymous Org' }],
    ['GET /v1/orgs', 'GET', '/v1/orgs', undefined],
    ['GET /v1/orgs/:orgId', 'GET', '/v1/orgs/ORG', undefined],
    ['PATCH /v1/orgs/:orgId', 'PATCH', '/v1/orgs/ORG', { name: 'Renamed' }],
    ['DELETE /v1/orgs/:orgId', 'DELETE', '/v1/orgs/ORG', undefined],
    ['GET /v1/orgs/:orgId/members', 'GET', '/v1/orgs/ORG/members', undefined],
    [
      'PATCH /v1/orgs/:orgId/members/:memberId',
      'PATCH',
      `/v1/orgs/ORG/members/${NOBODY}`,
      { role: 'creator' },
    ],
    ['DELETE /v1/orgs/:orgId/members/:memberId', 'DELETE', `/v1/orgs/ORG/members/${NOBODY}`, undefined],
    [
      'POST /v1/orgs/:orgId/invitations',
      'POST',
      '/v1/orgs/ORG/invitations',
      { email: 'x@example.com', role: 'creator' },
    ],
    ['GET /v1/orgs/:orgId/invitations', 'GET', '/v1/orgs/ORG/invitations', undefined],
    [
      'DELETE /v1/orgs/:orgId/invitations/:invitationId',
      'DELETE',
      `/v1/orgs/ORG/invitations/${NOBODY}`,
      undefined,
    ],
    ['POST /v1/invitations/accept', 'POST', '/v1/invitations/accept', { token: 'x'.repeat(43) }],
    ['POST /v1/orgs/:orgId/clients', 'POST', '/v1/orgs/ORG/clients', { name: 'Client' }],
    ['GET /v1/orgs/:orgId/clients', 'GET', '/v1/orgs/ORG/clients', undefined],
    ['GET /v1/orgs/:orgId/clients/:clientId', 'GET', `/v1/orgs/ORG/clients/${NOBODY}`, undefined],
    [
      'PATCH /v1/orgs/:orgId/clients/:clientId',
      'PATCH',
      `/v1/orgs/ORG/clients/${NOBODY}`,
      { name: 'Renamed' },
    ],
    ['DELETE /v1/orgs/:orgId/clients/:clientId', 'DELETE', `/v1/orgs/ORG/clients/${NOBODY}`, undefined],
  ];

  it.each(unauthenticated)('%s answers 401 without a token', async (_name, method, url, payload) => {
    const res = await send(method, url.replace('ORG', orgId), undefined, payload as InjectOptions['payload']);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ status: 401, title: 'Authentication required' });
  });

  it('answers 401 to a bearer token that is no session', async () => {
    const res = await send('GET', `/v1/orgs/${orgId}`, 'not-a-session-token');
    expect(res.statusCode).toBe(401);
  });

  it('changed nothing while refusing', async () => {
    const res = await send('GET', `/v1/orgs/${orgId}`, owner.token);
    expect(res.statusCode).toBe(200);
    expect(res.json().name).not.toBe('Renamed');
    const clients = await send('GET', `/v1/orgs/${orgId}/clients`, owner.token);
    expect(clients.json().items).toEqual([]);
    const invitations = await send('GET', `/v1/orgs/${orgId}/invitations`, owner.token);
    expect(invitations.json().items).toEqual([]);
  });
});

describe('organizations', () => {
  it('creates an organization whose creator is its owner, and lists it for them only', async () => {
    const owner = await ctx.newUser();
    const other = await ctx.newUser();
    const res = await send('POST', '/v1/orgs', owner.token, {
      name: 'Érable Studio',
      type: 'creator',
      companySize: '1-10',
    });
    expect(res.statusCode).toBe(201);
    const org = res.json();
    expect(org).toMatchObject({
      name: 'Érable Studio',
      slug: 'erable-studio',
      ownerId: owner.id,
      type: 'creator',
      companySize: '1-10',
      settings: {},
    });

    const mine = await send('GET', '/v1/orgs', owner.token);
    expect(mine.json().items).toEqual([expect.objectContaining({ id: org.id, memberRole: 'owner' })]);
    expect((await send('GET', '/v1/orgs', other.token)).json().items).toEqual([]);

    const members = await send('GET', `/v1/orgs/${org.id}/members`, owner.token);
    expect(members.json().items).toEqual([
      expect.objectContaining({ userId: owner.id, role: 'owner', email: owner.email, status: 'active' }),
    ]);
    expect(await auditRows(org.id, 'organization.created')).toHaveLength(1);
  });

  it('lets the owner and admins update, but not managers; only the owner deletes', async () => {
    const owner = await ctx.newUser();
    const admin = await ctx.newUser();
    const manager = await ctx.newUser();
    const org = await ctx.newOrg(owner);
    await ctx.addMember(owner, org.id, admin, 'admin');
    await ctx.addMember(owner, org.id, manager, 'manager');

    const byManager = await send('PATCH', `/v1/orgs/${org.id}`, manager.token, { name: 'Manager was here' });
    expect(byManager.statusCode).toBe(403);
    const byAdmin = await send('PATCH', `/v1/orgs/${org.id}`, admin.token, {
      name: 'Renamed by admin',
      website: 'https://example.com',
    });
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.json()).toMatchObject({ name: 'Renamed by admin', website: 'https://example.com' });
    expect((await auditRows(org.id, 'organization.updated'))[0]?.metadata).toMatchObject({
      fields: ['name', 'website'],
    });

    expect((await send('DELETE', `/v1/orgs/${org.id}`, admin.token)).statusCode).toBe(403);
    expect((await send('DELETE', `/v1/orgs/${org.id}`, owner.token)).statusCode).toBe(204);
    expect((await send('GET', `/v1/orgs/${org.id}`, owner.token)).statusCode).toBe(404);
    expect((await send('GET', `/v1/orgs/${org.id}/members`, admin.token)).statusCode).toBe(404);
    expect((await send('GET', '/v1/orgs', owner.token)).json().items).toEqual([]);
    expect(await auditRows(org.id, 'organization.deleted')).toHaveLength(1);
  });
});

describe('slug uniqueness', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await ctx.newUser();
  });

  it('refuses an explicit slug that is taken with 409 slug_taken', async () => {
    const first = await send('POST', '/v1/orgs', owner.token, { name: 'Taken One', slug: 'taken-slug' });
    expect(first.statusCode).toBe(201);
    const dup = await send('POST', '/v1/orgs', owner.token, { name: 'Another', slug: 'taken-slug' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ status: 409, code: 'slug_taken' });
    expect(errorPaths(dup)).toEqual(['body.slug']);
    const { rows } = await ctx.database.raw.query<{ n: number }>(
      "select count(*)::int as n from organizations where slug = 'taken-slug'",
      [],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('gives a generated slug that collides a random suffix', async () => {
    const a = await send('POST', '/v1/orgs', owner.token, { name: 'Collision Co' });
    const b = await send('POST', '/v1/orgs', owner.token, { name: 'Collision  Co!' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(a.json().slug).toBe('collision-co');
    expect(b.json().slug).toMatch(/^collision-co-[0-9a-f]{6}$/);
  });

  it('refuses renaming to a taken slug with 409 slug_taken', async () => {
    await ctx.newOrg(owner, { slug: 'already-here' });
    const org = await ctx.newOrg(owner);
    const res = await send('PATCH', `/v1/orgs/${org.id}`, owner.token, { slug: 'already-here' });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('slug_taken');
    expect((await send('GET', `/v1/orgs/${org.id}`, owner.token)).json().slug).toBe(org.slug);
  });

  it('keeps client slugs unique within an organization only', async () => {
    const a = await ctx.newOrg(owner, { type: 'agency' });
    const b = await ctx.newOrg(owner, { type: 'agency' });
    expect(
      (await send('POST', `/v1/orgs/${a.id}/clients`, owner.token, { name: 'Acme', slug: 'acme' }))
        .statusCode,
    ).toBe(201);
    const dup = await send('POST', `/v1/orgs/${a.id}/clients`, owner.token, {
      name: 'Acme again',
      slug: 'acme',
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('slug_taken');
    expect(
      (await send('POST', `/v1/orgs/${b.id}/clients`, owner.token, { name: 'Acme', slug: 'acme' }))
        .statusCode,
    ).toBe(201);
  });
});

describe('cross-tenant isolation', () => {
  let ownerA: TestUser;
  let ownerB: TestUser;
  let memberA: TestUser;
  let memberB: TestUser;
  let orgA: string;
  let orgB: string;
  let memberAId: string;
  let memberBId: string;
  let clientA: string;
  let clientB: string;
  let invitationB: string;
  let keyB: { id: string; secret: string };

  beforeAll(async () => {
    [ownerA, ownerB, memberA, memberB] = await Promise.all([
      ctx.newUser(),
      ctx.newUser(),
      ctx.newUser(),
      ctx.newUser(),
    ]);
    orgA = (await ctx.newOrg(ownerA, { name: 'Tenant A', type: 'agency' })).id;
    orgB = (await ctx.newOrg(ownerB, { name: 'Tenant B', type: 'agency' })).id;
    memberAId = (await ctx.addMember(ownerA, orgA, memberA, 'creator')).id;
    memberBId = (await ctx.addMember(ownerB, orgB, memberB, 'creator')).id;
    clientA = await newClient(ownerA, orgA, 'Client of A');
    clientB = await newClient(ownerB, orgB, 'Client of B');
    const inv = await invite(ownerB, orgB, 'pending-b@example.com', 'manager');
    expect(inv.statusCode).toBe(201);
    invitationB = inv.json().id;
    const key = await send('POST', `/v1/orgs/${orgB}/api-keys`, ownerB.token, {
      name: 'B key',
      scopes: ['org.read'],
    });
    expect(key.statusCode).toBe(201);
    keyB = key.json();
  });

  it("answers 404 to a member of A for every kind of B's data", async () => {
    const attempts: [Method, string, unknown][] = [
      ['GET', `/v1/orgs/${orgB}`, undefined],
      ['PATCH', `/v1/orgs/${orgB}`, { name: 'Hijacked' }],
      ['DELETE', `/v1/orgs/${orgB}`, undefined],
      ['GET', `/v1/orgs/${orgB}/members`, undefined],
      ['PATCH', `/v1/orgs/${orgB}/members/${memberBId}`, { role: 'manager' }],
      ['DELETE', `/v1/orgs/${orgB}/members/${memberBId}`, undefined],
      ['GET', `/v1/orgs/${orgB}/invitations`, undefined],
      ['POST', `/v1/orgs/${orgB}/invitations`, { email: memberA.email, role: 'creator' }],
      ['DELETE', `/v1/orgs/${orgB}/invitations/${invitationB}`, undefined],
      ['GET', `/v1/orgs/${orgB}/clients`, undefined],
      ['POST', `/v1/orgs/${orgB}/clients`, { name: 'Planted' }],
      ['GET', `/v1/orgs/${orgB}/clients/${clientB}`, undefined],
      ['PATCH', `/v1/orgs/${orgB}/clients/${clientB}`, { name: 'Hijacked' }],
      ['DELETE', `/v1/orgs/${orgB}/clients/${clientB}`, undefined],
      ['GET', `/v1/orgs/${orgB}/api-keys`, undefined],
      ['POST', `/v1/orgs/${orgB}/api-keys`, { name: 'Planted', scopes: ['org.read'] }],
      ['DELETE', `/v1/orgs/${orgB}/api-keys/${keyB.id}`, undefined],
      ['GET', `/v1/orgs/${orgB}/audit-logs`, undefined],
    ];
    for (const who of [ownerA, memberA]) {
      for (const [method, url, payload] of attempts) {
        const res = await send(method, url, who.token, payload as InjectOptions['payload']);
        expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
      }
    }
  });

  it('answers exactly as for an organization that does not exist', async () => {
    const real = await send('GET', `/v1/orgs/${orgB}/members`, ownerA.token);
    const none = await send('GET', `/v1/orgs/${NOBODY}/members`, ownerA.token);
    expect(real.statusCode).toBe(404);
    const strip = (r: LightMyRequestResponse) => {
      const { requestId: _r, instance: _i, ...rest } = r.json<Record<string, unknown>>();
      return rest;
    };
    expect(strip(real)).toEqual(strip(none));
  });

  it("refuses B's member, invitation, client and key ids under A's organization id", async () => {
    const attempts: [Method, string, unknown][] = [
      ['PATCH', `/v1/orgs/${orgA}/members/${memberBId}`, { role: 'manager' }],
      ['DELETE', `/v1/orgs/${orgA}/members/${memberBId}`, undefined],
      ['DELETE', `/v1/orgs/${orgA}/invitations/${invitationB}`, undefined],
      ['GET', `/v1/orgs/${orgA}/clients/${clientB}`, undefined],
      ['PATCH', `/v1/orgs/${orgA}/clients/${clientB}`, { name: 'Hijacked' }],
      ['DELETE', `/v1/orgs/${orgA}/clients/${clientB}`, undefined],
      ['DELETE', `/v1/orgs/${orgA}/api-keys/${keyB.id}`, undefined],
      // A client account of B cannot be linked to a member or invitation of A.
      [
        'POST',
        `/v1/orgs/${orgA}/invitations`,
        { email: 'linker@example.com', role: 'client', clientAccountId: clientB },
      ],
      ['PATCH', `/v1/orgs/${orgA}/members/${memberAId}`, { role: 'client', clientAccountId: clientB }],
    ];
    for (const [method, url, payload] of attempts) {
      const res = await send(method, url, ownerA.token, payload as InjectOptions['payload']);
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
    }
  });

  it("left B's data untouched", async () => {
    const org = await send('GET', `/v1/orgs/${orgB}`, ownerB.token);
    expect(org.json().name).toBe('Tenant B');
    const members = (await send('GET', `/v1/orgs/${orgB}/members`, ownerB.token)).json().items as {
      id: string;
      role: string;
    }[];
    expect(members.find((m) => m.id === memberBId)?.role).toBe('creator');
    const pending = await send('GET', `/v1/orgs/${orgB}/invitations?status=pending`, ownerB.token);
    expect(pending.json().items).toEqual([
      expect.objectContaining({ id: invitationB, email: 'pending-b@example.com', status: 'pending' }),
    ]);
    const clients = (await send('GET', `/v1/orgs/${orgB}/clients`, ownerB.token)).json().items as {
      id: string;
      name: string;
    }[];
    expect(clients).toEqual([expect.objectContaining({ id: clientB, name: 'Client of B' })]);
    const keys = (await send('GET', `/v1/orgs/${orgB}/api-keys`, ownerB.token)).json().items as {
      id: string;
      revokedAt: unknown;
    }[];
    expect(keys).toEqual([expect.objectContaining({ id: keyB.id, revokedAt: null })]);
    expect(
      (await ctx.req({ method: 'GET', url: '/v1/api-key', headers: { 'x-api-key': keyB.secret } }))
        .statusCode,
    ).toBe(200);
    const memberOfA = (await send('GET', `/v1/orgs/${orgA}/members`, ownerA.token)).json().items as {
      id: string;
      role: string;
    }[];
    expect(memberOfA.find((m) => m.id === memberAId)?.role).toBe('creator');
    expect(await auditRows(orgA, 'invitation.created')).toHaveLength(1);
  });

  it("keeps each organization's audit log to itself", async () => {
    const res = await send('GET', `/v1/orgs/${orgA}/audit-logs?limit=100`, ownerA.token);
    expect(res.statusCode).toBe(200);
    const items = res.json().items as { organizationId: string; resourceId: string | null }[];
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.organizationId === orgA)).toBe(true);
    const idsOfB = [orgB, memberBId, clientB, invitationB, keyB.id];
    expect(items.filter((i) => i.resourceId !== null && idsOfB.includes(i.resourceId))).toEqual([]);
  });

  it("does not let an API key of one organization read another's", async () => {
    const keyA = await send('POST', `/v1/orgs/${orgA}/api-keys`, ownerA.token, {
      name: 'A key',
      scopes: ['org.read', 'members.read', 'clients.read'],
    });
    expect(keyA.statusCode).toBe(201);
    const headers = { 'x-api-key': keyA.json().secret as string };
    for (const url of [
      `/v1/orgs/${orgB}`,
      `/v1/orgs/${orgB}/members`,
      `/v1/orgs/${orgB}/clients`,
      `/v1/orgs/${orgB}/clients/${clientB}`,
    ]) {
      const res = await ctx.req({ method: 'GET', url, headers });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 404 });
    }
    const own = await ctx.req({ method: 'GET', url: `/v1/orgs/${orgA}/clients`, headers });
    expect(own.statusCode).toBe(200);
    expect(own.json().items.map((c: { id: string }) => c.id)).toEqual([clientA]);
    const ownClient = await ctx.req({ method: 'GET', url: `/v1/orgs/${orgA}/clients/${clientB}`, headers });
    expect(ownClient.statusCode).toBe(404);
  });

  it("does not list another organization's memberships", async () => {
    const mine = (await send('GET', '/v1/orgs', memberA.token)).json().items as { id: string }[];
    expect(mine.map((o) => o.id)).toEqual([orgA]);
  });
});

describe('member removal and leaving', () => {
  let owner: TestUser;
  let orgId: string;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner)).id;
  });

  it('cuts a removed member off on their very next request', async () => {
    const user = await ctx.newUser();
    const { id: memberId } = await ctx.addMember(owner, orgId, user, 'manager');
    expect((await send('GET', `/v1/orgs/${orgId}`, user.token)).statusCode).toBe(200);
    expect((await send('GET', `/v1/orgs/${orgId}/members`, user.token)).statusCode).toBe(200);

    const removed = await send('DELETE', `/v1/orgs/${orgId}/members/${memberId}`, owner.token);
    expect(removed.statusCode).toBe(204);
    expect((await send('GET', `/v1/orgs/${orgId}`, user.token)).statusCode).toBe(404);
    expect((await send('GET', `/v1/orgs/${orgId}/members`, user.token)).statusCode).toBe(404);
    expect((await send('GET', '/v1/orgs', user.token)).json().items).toEqual([]);
    const members = (await send('GET', `/v1/orgs/${orgId}/members`, owner.token)).json().items as {
      userId: string;
    }[];
    expect(members.map((m) => m.userId)).not.toContain(user.id);

    const rows = (await auditRows(orgId, 'member.removed')).filter((r) => r.resource_id === memberId);
    expect(rows).toEqual([
      expect.objectContaining({
        user_id: owner.id,
        resource_type: 'team_member',
        metadata: expect.objectContaining({ memberUserId: user.id, left: false }),
      }),
    ]);
    // Removing again: the member is gone.
    expect((await send('DELETE', `/v1/orgs/${orgId}/members/${memberId}`, owner.token)).statusCode).toBe(404);
  });

  it('lets a member leave, with the same immediate effect', async () => {
    const user = await ctx.newUser();
    const { id: memberId } = await ctx.addMember(owner, orgId, user, 'creator');
    const left = await send('DELETE', `/v1/orgs/${orgId}/members/${memberId}`, user.token);
    expect(left.statusCode).toBe(204);
    expect((await send('GET', `/v1/orgs/${orgId}`, user.token)).statusCode).toBe(404);
    const rows = (await auditRows(orgId, 'member.removed')).filter((r) => r.resource_id === memberId);
    expect(rows).toEqual([
      expect.objectContaining({ user_id: user.id, metadata: expect.objectContaining({ left: true }) }),
    ]);
  });

  it('lets a client member leave though they cannot manage members', async () => {
    const agency = (await ctx.newOrg(owner, { type: 'agency' })).id;
    const clientId = await newClient(owner, agency, 'Leaving Client');
    const user = await ctx.newUser();
    const { id: memberId } = await ctx.addMember(owner, agency, user, 'client', {
      clientAccountId: clientId,
    });
    expect((await send('DELETE', `/v1/orgs/${agency}/members/${memberId}`, user.token)).statusCode).toBe(204);
    expect((await send('GET', `/v1/orgs/${agency}/clients`, user.token)).statusCode).toBe(404);
  });

  it('does not let a member remove someone else without members.manage', async () => {
    const manager = await ctx.newUser();
    const creator = await ctx.newUser();
    await ctx.addMember(owner, orgId, manager, 'manager');
    const { id: creatorId } = await ctx.addMember(owner, orgId, creator, 'creator');
    expect((await send('DELETE', `/v1/orgs/${orgId}/members/${creatorId}`, manager.token)).statusCode).toBe(
      403,
    );
    expect((await send('GET', `/v1/orgs/${orgId}`, creator.token)).statusCode).toBe(200);
  });

  it('neither removes the owner nor lets the owner leave', async () => {
    const admin = await ctx.newUser();
    await ctx.addMember(owner, orgId, admin, 'admin');
    const ownerMemberId = await memberIdOf(owner, orgId, owner.id);
    const byOwner = await send('DELETE', `/v1/orgs/${orgId}/members/${ownerMemberId}`, owner.token);
    expect(byOwner.statusCode).toBe(409);
    expect(byOwner.json().code).toBe('owner_removal');
    const byAdmin = await send('DELETE', `/v1/orgs/${orgId}/members/${ownerMemberId}`, admin.token);
    expect(byAdmin.statusCode).toBe(409);
    expect((await send('GET', `/v1/orgs/${orgId}`, owner.token)).statusCode).toBe(200);
  });
});

describe('roles', () => {
  let owner: TestUser;
  let admin: TestUser;
  let manager: TestUser;
  let creator: TestUser;
  let orgId: string;
  let managerId: string;
  let creatorId: string;
  beforeAll(async () => {
    [owner, admin, manager, creator] = await Promise.all([
      ctx.newUser(),
      ctx.newUser(),
      ctx.newUser(),
      ctx.newUser(),
    ]);
    orgId = (await ctx.newOrg(owner, { type: 'agency' })).id;
    await ctx.addMember(owner, orgId, admin, 'admin');
    managerId = (await ctx.addMember(owner, orgId, manager, 'manager')).id;
    creatorId = (await ctx.addMember(owner, orgId, creator, 'creator')).id;
  });

  it('does not let an admin grant admin, by invitation or by role change', async () => {
    const inv = await invite(admin, orgId, 'would-be-admin@example.com', 'admin');
    expect(inv.statusCode).toBe(403);
    const change = await send('PATCH', `/v1/orgs/${orgId}/members/${creatorId}`, admin.token, {
      role: 'admin',
    });
    expect(change.statusCode).toBe(403);
    const members = (await send('GET', `/v1/orgs/${orgId}/members`, owner.token)).json().items as {
      id: string;
      role: string;
    }[];
    expect(members.find((m) => m.id === creatorId)?.role).toBe('creator');
    const invitations = (await send('GET', `/v1/orgs/${orgId}/invitations`, owner.token)).json().items as {
      email: string;
    }[];
    expect(invitations.map((i) => i.email)).not.toContain('would-be-admin@example.com');
  });

  it('lets an admin invite and assign lesser roles', async () => {
    const inv = await invite(admin, orgId, 'new-creator@example.com', 'creator');
    expect(inv.statusCode).toBe(201);
    expect(inv.json()).toMatchObject({
      email: 'new-creator@example.com',
      role: 'creator',
      status: 'pending',
      invitedBy: admin.id,
    });
  });

  it('does not let an admin change or remove another admin', async () => {
    const other = await ctx.newUser();
    const { id: otherAdminId } = await ctx.addMember(owner, orgId, other, 'admin');
    expect(
      (await send('PATCH', `/v1/orgs/${orgId}/members/${otherAdminId}`, admin.token, { role: 'creator' }))
        .statusCode,
    ).toBe(403);
    expect((await send('DELETE', `/v1/orgs/${orgId}/members/${otherAdminId}`, admin.token)).statusCode).toBe(
      403,
    );
    expect((await send('GET', `/v1/orgs/${orgId}/audit-logs`, other.token)).statusCode).toBe(200);
  });

  it('lets the owner promote to admin and records the change', async () => {
    const user = await ctx.newUser();
    const { id } = await ctx.addMember(owner, orgId, user, 'manager');
    const res = await send('PATCH', `/v1/orgs/${orgId}/members/${id}`, owner.token, { role: 'admin' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, role: 'admin', clientAccountId: null });
    // The new role holds on the next request.
    expect((await send('GET', `/v1/orgs/${orgId}/audit-logs`, user.token)).statusCode).toBe(200);
    const rows = (await auditRows(orgId, 'member.role_changed')).filter((r) => r.resource_id === id);
    expect(rows).toEqual([
      expect.objectContaining({
        user_id: owner.id,
        resource_type: 'team_member',
        metadata: expect.objectContaining({ memberUserId: user.id, from: 'manager', to: 'admin' }),
      }),
    ]);
  });

  it('does not let a manager invite, change roles or read the audit log', async () => {
    expect((await invite(manager, orgId, 'from-manager@example.com', 'creator')).statusCode).toBe(403);
    expect((await send('GET', `/v1/orgs/${orgId}/invitations`, manager.token)).statusCode).toBe(403);
    expect(
      (await send('PATCH', `/v1/orgs/${orgId}/members/${creatorId}`, manager.token, { role: 'manager' }))
        .statusCode,
    ).toBe(403);
    expect((await send('GET', `/v1/orgs/${orgId}/audit-logs`, manager.token)).statusCode).toBe(403);
    // Managers do run client accounts.
    expect(
      (await send('POST', `/v1/orgs/${orgId}/clients`, manager.token, { name: 'Managed Client' })).statusCode,
    ).toBe(201);
  });

  it('does not let a creator manage clients or members', async () => {
    expect(
      (await send('POST', `/v1/orgs/${orgId}/clients`, creator.token, { name: 'Creator Client' })).statusCode,
    ).toBe(403);
    expect((await send('DELETE', `/v1/orgs/${orgId}/members/${managerId}`, creator.token)).statusCode).toBe(
      403,
    );
    expect((await send('GET', `/v1/orgs/${orgId}/members`, creator.token)).statusCode).toBe(200);
  });

  it("does not change the owner's role, whoever asks", async () => {
    const ownerMemberId = await memberIdOf(owner, orgId, owner.id);
    for (const who of [owner, admin]) {
      const res = await send('PATCH', `/v1/orgs/${orgId}/members/${ownerMemberId}`, who.token, {
        role: 'manager',
      });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('owner_role');
    }
    const members = (await send('GET', `/v1/orgs/${orgId}/members?limit=100`, owner.token)).json().items as {
      id: string;
      role: string;
    }[];
    expect(members.find((m) => m.id === ownerMemberId)?.role).toBe('owner');
  });

  it('requires a client account of the same organization for the client role, and only for it', async () => {
    const org = (await ctx.newOrg(owner, { type: 'agency' })).id;
    const clientId = await newClient(owner, org, 'Linked Client');
    const user = await ctx.newUser();
    const { id: memberId } = await ctx.addMember(owner, org, user, 'creator');

    const noClient = await invite(owner, org, 'client-less@example.com', 'client');
    expect(noClient.statusCode).toBe(400);
    expect(errorPaths(noClient)).toEqual(['body.clientAccountId']);
    const notClientRole = await invite(owner, org, 'creator-linked@example.com', 'creator', {
      clientAccountId: clientId,
    });
    expect(notClientRole.statusCode).toBe(400);
    expect(errorPaths(notClientRole)).toEqual(['body.clientAccountId']);
    const unknownClient = await invite(owner, org, 'ghost-client@example.com', 'client', {
      clientAccountId: NOBODY,
    });
    expect(unknownClient.statusCode).toBe(404);

    const changeNoClient = await send('PATCH', `/v1/orgs/${org}/members/${memberId}`, owner.token, {
      role: 'client',
    });
    expect(changeNoClient.statusCode).toBe(400);
    expect(errorPaths(changeNoClient)).toEqual(['body.clientAccountId']);
    const changeLinkNonClient = await send('PATCH', `/v1/orgs/${org}/members/${memberId}`, owner.token, {
      role: 'manager',
      clientAccountId: clientId,
    });
    expect(changeLinkNonClient.statusCode).toBe(400);

    const toClient = await send('PATCH', `/v1/orgs/${org}/members/${memberId}`, owner.token, {
      role: 'client',
      clientAccountId: clientId,
    });
    expect(toClient.statusCode).toBe(200);
    expect(toClient.json()).toMatchObject({ role: 'client', clientAccountId: clientId });
    const back = await send('PATCH', `/v1/orgs/${org}/members/${memberId}`, owner.token, { role: 'creator' });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ role: 'creator', clientAccountId: null });
  });
});

describe('client accounts', () => {
  it('exist only in agency and enterprise organizations', async () => {
    const owner = await ctx.newUser();
    for (const type of ['individual', 'creator', 'seller', 'partner']) {
      const org = await ctx.newOrg(owner, { type });
      const res = await send('POST', `/v1/orgs/${org.id}/clients`, owner.token, { name: 'Nope' });
      expect({ type, status: res.statusCode, code: res.json().code }).toEqual({
        type,
        status: 409,
        code: 'not_an_agency',
      });
    }
    for (const type of ['agency', 'enterprise']) {
      const org = await ctx.newOrg(owner, { type });
      const res = await send('POST', `/v1/orgs/${org.id}/clients`, owner.token, {
        name: 'Yes Client',
        contactEmail: 'c@example.com',
      });
      expect({ type, status: res.statusCode }).toEqual({ type, status: 201 });
      expect(res.json()).toMatchObject({
        organizationId: org.id,
        name: 'Yes Client',
        slug: 'yes-client',
        contactEmail: 'c@example.com',
      });
      expect(await auditRows(org.id, 'client.created')).toHaveLength(1);
    }
  });

  it('are created, updated and deleted by those who manage clients', async () => {
    const owner = await ctx.newUser();
    const org = (await ctx.newOrg(owner, { type: 'agency' })).id;
    const clientId = await newClient(owner, org, 'Lifecycle Client');
    const patched = await send('PATCH', `/v1/orgs/${org}/clients/${clientId}`, owner.token, {
      brandColors: { primary: '#112233' },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().brandColors).toEqual({ primary: '#112233' });
    expect((await send('DELETE', `/v1/orgs/${org}/clients/${clientId}`, owner.token)).statusCode).toBe(204);
    expect((await send('GET', `/v1/orgs/${org}/clients/${clientId}`, owner.token)).statusCode).toBe(404);
    expect((await send('DELETE', `/v1/orgs/${org}/clients/${clientId}`, owner.token)).statusCode).toBe(404);
    expect((await send('GET', `/v1/orgs/${org}/clients`, owner.token)).json().items).toEqual([]);
    expect(await auditRows(org, 'client.deleted')).toHaveLength(1);
  });

  it('are visible to a client member only for their own account', async () => {
    const owner = await ctx.newUser();
    const org = (await ctx.newOrg(owner, { type: 'agency' })).id;
    const mine = await newClient(owner, org, 'Mine Client');
    const theirs = await newClient(owner, org, 'Theirs Client');
    const user = await ctx.newUser();
    const member = await ctx.addMember(owner, org, user, 'client', { clientAccountId: mine });
    expect(member).toMatchObject({ role: 'client', clientAccountId: mine });

    const list = await send('GET', `/v1/orgs/${org}/clients`, user.token);
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((c: { id: string }) => c.id)).toEqual([mine]);
    expect((await send('GET', `/v1/orgs/${org}/clients/${mine}`, user.token)).statusCode).toBe(200);
    expect((await send('GET', `/v1/orgs/${org}/clients/${theirs}`, user.token)).statusCode).toBe(404);
    // Owners see both.
    expect((await send('GET', `/v1/orgs/${org}/clients`, owner.token)).json().items).toHaveLength(2);
    // Client members cannot read the team or change their client.
    expect((await send('GET', `/v1/orgs/${org}/members`, user.token)).statusCode).toBe(403);
    expect(
      (await send('PATCH', `/v1/orgs/${org}/clients/${mine}`, user.token, { name: 'Changed' })).statusCode,
    ).toBe(403);
    expect((await send('GET', `/v1/orgs/${org}`, user.token)).statusCode).toBe(200);
  });
});

describe('invitations', () => {
  let owner: TestUser;
  let orgId: string;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner, { name: 'Inviting Org' })).id;
  });

  it('mails a token that the invited user accepts, with audit rows for both steps', async () => {
    const user = await ctx.newUser();
    const inv = await invite(owner, orgId, user.email.toUpperCase(), 'creator');
    expect(inv.statusCode).toBe(201);
    const invitation = inv.json();
    expect(invitation).toMatchObject({
      organizationId: orgId,
      email: user.email,
      role: 'creator',
      status: 'pending',
      invitedBy: owner.id,
    });
    expect(new Date(invitation.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
    expect(JSON.stringify(invitation)).not.toMatch(/token/i);

    const token = await mailedToken(user.email);
    const subjects = (await ctx.mailTo(user.email)).map((m) => m.subject);
    expect(subjects).toContain('You are invited to join Inviting Org on Fanfare');
    // Only a hash of the token is stored.
    const { rows } = await ctx.database.raw.query<Record<string, unknown>>(
      'select * from invitations where id = $1',
      [invitation.id],
    );
    expect(JSON.stringify(rows)).not.toContain(token);

    const accepted = await accept(user, token);
    expect(accepted.statusCode).toBe(201);
    expect(accepted.json()).toMatchObject({
      organizationId: orgId,
      userId: user.id,
      role: 'creator',
      invitedBy: owner.id,
      status: 'active',
    });
    expect((await send('GET', `/v1/orgs/${orgId}`, user.token)).statusCode).toBe(200);

    const listed = (await send('GET', `/v1/orgs/${orgId}/invitations?status=accepted`, owner.token)).json()
      .items as { id: string }[];
    expect(listed.map((i) => i.id)).toContain(invitation.id);
    expect(
      (await auditRows(orgId, 'invitation.created')).filter((r) => r.resource_id === invitation.id),
    ).toEqual([
      expect.objectContaining({
        user_id: owner.id,
        metadata: expect.objectContaining({ email: user.email, role: 'creator' }),
      }),
    ]);
    expect(
      (await auditRows(orgId, 'invitation.accepted')).filter((r) => r.resource_id === invitation.id),
    ).toEqual([expect.objectContaining({ user_id: user.id, resource_type: 'invitation' })]);
  });

  it('refuses a second acceptance of the same invitation', async () => {
    const user = await ctx.newUser();
    expect((await invite(owner, orgId, user.email, 'manager')).statusCode).toBe(201);
    const token = await mailedToken(user.email);
    expect((await accept(user, token)).statusCode).toBe(201);
    const again = await accept(user, token);
    expect([409, 410]).toContain(again.statusCode);
    const members = (await send('GET', `/v1/orgs/${orgId}/members?limit=100`, owner.token)).json().items as {
      userId: string;
    }[];
    expect(members.filter((m) => m.userId === user.id)).toHaveLength(1);
  });

  it('refuses a user signed in with another e-mail address with 403', async () => {
    const invited = await ctx.newUser();
    const intruder = await ctx.newUser();
    expect((await invite(owner, orgId, invited.email, 'creator')).statusCode).toBe(201);
    const token = await mailedToken(invited.email);
    const res = await accept(intruder, token);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('invitation_email_mismatch');
    expect((await send('GET', `/v1/orgs/${orgId}`, intruder.token)).statusCode).toBe(404);
    // The invitation is still good for the right person.
    expect((await accept(invited, token)).statusCode).toBe(201);
  });

  it('refuses a revoked invitation with 410 and records the revocation', async () => {
    const user = await ctx.newUser();
    const inv = await invite(owner, orgId, user.email, 'creator');
    const token = await mailedToken(user.email);
    const revoked = await send('DELETE', `/v1/orgs/${orgId}/invitations/${inv.json().id}`, owner.token);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id: inv.json().id, status: 'revoked' });
    expect(revoked.json().revokedAt).not.toBeNull();

    const res = await accept(user, token);
    expect(res.statusCode).toBe(410);
    expect(res.json().code).toBe('invitation_revoked');
    expect((await send('GET', `/v1/orgs/${orgId}`, user.token)).statusCode).toBe(404);
    const twice = await send('DELETE', `/v1/orgs/${orgId}/invitations/${inv.json().id}`, owner.token);
    expect(twice.statusCode).toBe(409);
    expect(await auditRows(orgId, 'invitation.revoked')).toEqual([
      expect.objectContaining({ user_id: owner.id, resource_id: inv.json().id }),
    ]);
  });

  it('refuses a second pending invitation for the same address with 409', async () => {
    expect((await invite(owner, orgId, 'twice@example.com', 'creator')).statusCode).toBe(201);
    const dup = await invite(owner, orgId, 'TWICE@example.com', 'manager');
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('invitation_pending');
    const pending = (await send('GET', `/v1/orgs/${orgId}/invitations?status=pending`, owner.token)).json()
      .items as { email: string }[];
    expect(pending.filter((i) => i.email === 'twice@example.com')).toHaveLength(1);
  });

  it('refuses to invite someone who is already a member with 409', async () => {
    const user = await ctx.newUser();
    await ctx.addMember(owner, orgId, user, 'creator');
    const res = await invite(owner, orgId, user.email, 'manager');
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('already_member');
  });

  it('refuses an expired invitation with 410, marks it expired and allows a new one', async () => {
    const user = await ctx.newUser();
    const inv = await invite(owner, orgId, user.email, 'creator');
    const token = await mailedToken(user.email);
    await ctx.database.raw.query(
      "update invitations set expires_at = now() - interval '1 minute' where id = $1",
      [inv.json().id],
    );

    const res = await accept(user, token);
    expect(res.statusCode).toBe(410);
    expect(res.json().code).toBe('invitation_expired');
    expect((await send('GET', `/v1/orgs/${orgId}`, user.token)).statusCode).toBe(404);
    // The refusal itself marks the invitation expired (before any listing does).
    const { rows } = await ctx.database.raw.query<{ status: string }>(
      'select status from invitations where id = $1',
      [inv.json().id],
    );
    expect(rows).toEqual([{ status: 'expired' }]);
    const again410 = await accept(user, token);
    expect(again410.statusCode).toBe(410);
    expect(again410.json().code).toBe('invitation_expired');

    const expired = (await send('GET', `/v1/orgs/${orgId}/invitations?status=expired`, owner.token)).json()
      .items as { id: string }[];
    expect(expired.map((i) => i.id)).toEqual([inv.json().id]);
    const again = await invite(owner, orgId, user.email, 'creator');
    expect(again.statusCode).toBe(201);
    expect((await accept(user, await mailedToken(user.email))).statusCode).toBe(201);
  });

  it('answers 404 to a token that matches no invitation', async () => {
    const user = await ctx.newUser();
    const res = await accept(user, 'x'.repeat(43));
    expect(res.statusCode).toBe(404);
  });

  it('pages through invitations with a cursor', async () => {
    const org = (await ctx.newOrg(owner)).id;
    for (const n of [1, 2, 3]) {
      expect((await invite(owner, org, `page${n}@example.com`, 'creator')).statusCode).toBe(201);
    }
    const first = await send('GET', `/v1/orgs/${org}/invitations?limit=2`, owner.token);
    expect(first.json().items.map((i: { email: string }) => i.email)).toEqual([
      'page3@example.com',
      'page2@example.com',
    ]);
    const next = first.json().nextCursor as string;
    expect(next).toBeTruthy();
    const second = await send('GET', `/v1/orgs/${org}/invitations?limit=2&cursor=${next}`, owner.token);
    expect(second.json()).toEqual({
      items: [expect.objectContaining({ email: 'page1@example.com' })],
      nextCursor: null,
    });
  });
});
