import { createHash } from 'node:crypto';
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

const NOBODY = '01900000-0000-7000-8000-000000000000';
type Method = 'GET' | 'POST' | 'DELETE';

interface CreatedKey {
  id: string;
  organizationId: string;
  name: string;
  start: string;
  scopes: string[];
  secret: string;
  createdBy: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const errorPaths = (res: LightMyRequestResponse): string[] =>
  (res.json<{ errors?: { path: string }[] }>().errors ?? []).map((e) => e.path);

const send = (method: Method, url: string, token: string | undefined, payload?: InjectOptions['payload']) =>
  ctx.req({ method, url, ...(token ? { token } : {}), ...(payload !== undefined ? { payload } : {}) });

async function createKey(
  by: TestUser,
  orgId: string,
  body: Record<string, unknown> = {},
): Promise<CreatedKey> {
  const res = await send('POST', `/v1/orgs/${orgId}/api-keys`, by.token, {
    name: 'Partner',
    scopes: ['org.read'],
    ...body,
  });
  expect(res.statusCode).toBe(201);
  return res.json();
}

/** GET /v1/api-key with the key in the x-api-key header. */
const whoamiByHeader = (secret: string) =>
  ctx.req({ method: 'GET', url: '/v1/api-key', headers: { 'x-api-key': secret } });
/** GET /v1/api-key with the key as a bearer token. */
const whoamiByBearer = (secret: string) => ctx.req({ method: 'GET', url: '/v1/api-key', token: secret });

async function auditRows(orgId: string, action: string) {
  const { rows } = await ctx.database.raw.query<{
    user_id: string | null;
    resource_id: string | null;
    metadata: Record<string, unknown>;
  }>(
    'select user_id, resource_id, metadata from audit_logs where organization_id = $1 and action = $2 order by id',
    [orgId, action],
  );
  return rows;
}

describe('input validation and authentication on every route', () => {
  let owner: TestUser;
  let orgId: string;
  let key: CreatedKey;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner)).id;
    key = await createKey(owner, orgId);
  });

  const badInput: [string, Method, string, unknown, string[]][] = [
    [
      'POST api-keys (empty name)',
      'POST',
      '/v1/orgs/ORG/api-keys',
      { name: '  ', scopes: ['org.read'] },
      ['body.name'],
    ],
    [
      'POST api-keys (scope not grantable)',
      'POST',
      '/v1/orgs/ORG/api-keys',
      { name: 'k', scopes: ['apikeys.manage'] },
      ['body.scopes.0'],
    ],
    [
      'POST api-keys (no scopes)',
      'POST',
      '/v1/orgs/ORG/api-keys',
      { name: 'k', scopes: [] },
      ['body.scopes'],
    ],
    [
      'POST api-keys (bad expiry)',
      'POST',
      '/v1/orgs/ORG/api-keys',
      { name: 'k', scopes: ['org.read'], expiresAt: 'soon' },
      ['body.expiresAt'],
    ],
    [
      'POST api-keys (unknown field)',
      'POST',
      '/v1/orgs/ORG/api-keys',
      { name: 'k', scopes: ['org.read'], secret: 'ffk_mine' },
      ['body'],
    ],
    [
      'POST api-keys (bad org id)',
      'POST',
      '/v1/orgs/nope/api-keys',
      { name: 'k', scopes: ['org.read'] },
      ['params.orgId'],
    ],
    ['GET api-keys (bad org id)', 'GET', '/v1/orgs/nope/api-keys', undefined, ['params.orgId']],
    ['GET api-keys (bad limit)', 'GET', '/v1/orgs/ORG/api-keys?limit=abc', undefined, ['querystring.limit']],
    ['DELETE api-keys/:keyId', 'DELETE', '/v1/orgs/ORG/api-keys/nope', undefined, ['params.keyId']],
  ];

  it.each(badInput)('%s answers 400 naming the field', async (_name, method, url, payload, paths) => {
    const res = await send(
      method,
      url.replace('ORG', orgId),
      owner.token,
      payload as InjectOptions['payload'],
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(errorPaths(res)).toEqual(paths);
  });

  it('refuses an expiry in the past with 400 on body.expiresAt', async () => {
    const res = await send('POST', `/v1/orgs/${orgId}/api-keys`, owner.token, {
      name: 'k',
      scopes: ['org.read'],
      expiresAt: '2001-01-01T00:00:00Z',
    });
    expect(res.statusCode).toBe(400);
    expect(errorPaths(res)).toEqual(['body.expiresAt']);
  });

  it('refuses a malformed or unknown key in either header with 401 invalid_api_key', async () => {
    for (const presented of ['not-a-key', 'ffk_', `ffk_${'a'.repeat(300)}`, `ffk_${'b'.repeat(43)}`]) {
      const res = await whoamiByHeader(presented);
      expect({ presented, status: res.statusCode, code: res.json().code }).toEqual({
        presented,
        status: 401,
        code: 'invalid_api_key',
      });
    }
    const bearer = await whoamiByBearer(`ffk_${'c'.repeat(43)}`);
    expect(bearer.statusCode).toBe(401);
    expect(bearer.json().code).toBe('invalid_api_key');
  });

  const unauthenticated: [string, Method, string, unknown][] = [
    ['POST /v1/orgs/:orgId/api-keys', 'POST', '/v1/orgs/ORG/api-keys', { name: 'k', scopes: ['org.read'] }],
    ['GET /v1/orgs/:orgId/api-keys', 'GET', '/v1/orgs/ORG/api-keys', undefined],
    ['DELETE /v1/orgs/:orgId/api-keys/:keyId', 'DELETE', '/v1/orgs/ORG/api-keys/KEY', undefined],
    ['GET /v1/api-key', 'GET', '/v1/api-key', undefined],
  ];

  it.each(unauthenticated)('%s answers 401 without a token', async (_name, method, url, payload) => {
    const res = await send(
      method,
      url.replace('ORG', orgId).replace('KEY', key.id),
      undefined,
      payload as InjectOptions['payload'],
    );
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ status: 401, title: 'Authentication required' });
  });

  it('answers 401 on GET /v1/api-key to a user session, which is no API key', async () => {
    expect((await send('GET', '/v1/api-key', owner.token)).statusCode).toBe(401);
  });

  it('left the key alive and alone', async () => {
    const list = await send('GET', `/v1/orgs/${orgId}/api-keys`, owner.token);
    expect(list.json().items).toEqual([expect.objectContaining({ id: key.id, revokedAt: null })]);
  });
});

describe('creating and listing keys', () => {
  let owner: TestUser;
  let orgId: string;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner)).id;
  });

  it('shows the secret once, at creation, and keeps only its hash', async () => {
    const res = await send('POST', `/v1/orgs/${orgId}/api-keys`, owner.token, {
      name: 'Shop sync',
      scopes: ['org.read', 'members.read', 'org.read'],
    });
    expect(res.statusCode).toBe(201);
    const key = res.json<CreatedKey>();
    expect(key.secret).toMatch(/^ffk_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({
      organizationId: orgId,
      name: 'Shop sync',
      start: key.secret.slice(0, 12),
      scopes: ['org.read', 'members.read'],
      createdBy: owner.id,
      lastUsedAt: null,
      revokedAt: null,
      expiresAt: null,
    });

    const list = await send('GET', `/v1/orgs/${orgId}/api-keys`, owner.token);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(key.secret);
    expect(list.body).not.toContain(key.secret.slice(12));
    const [item] = list.json<{ items: Record<string, unknown>[] }>().items;
    expect(item).toMatchObject({ id: key.id, start: key.secret.slice(0, 12) });
    expect(Object.keys(item!).sort()).toEqual([
      'createdAt',
      'createdBy',
      'expiresAt',
      'id',
      'lastUsedAt',
      'name',
      'organizationId',
      'revokedAt',
      'scopes',
      'start',
    ]);

    const { rows } = await ctx.database.raw.query<Record<string, unknown>>(
      'select * from api_keys where id = $1',
      [key.id],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    for (const [column, value] of Object.entries(row)) {
      expect({ column, containsSecret: String(value).includes(key.secret.slice(4)) }).toEqual({
        column,
        containsSecret: false,
      });
    }
    expect(row.key_hash).toBe(createHash('sha256').update(key.secret).digest('hex'));
  });

  it('records api_key.created in the audit log without the secret', async () => {
    const key = await createKey(owner, orgId, { name: 'Audited' });
    const rows = (await auditRows(orgId, 'api_key.created')).filter((r) => r.resource_id === key.id);
    expect(rows).toEqual([
      expect.objectContaining({
        user_id: owner.id,
        metadata: expect.objectContaining({ name: 'Audited', scopes: ['org.read'] }),
      }),
    ]);
    expect(JSON.stringify(rows)).not.toContain(key.secret);
  });

  it('accepts a future expiry', async () => {
    const expiresAt = new Date(Date.now() + 24 * 3600_000).toISOString();
    const key = await createKey(owner, orgId, { expiresAt });
    expect(key.expiresAt).toBe(expiresAt);
  });

  it('pages through keys newest first', async () => {
    const org = (await ctx.newOrg(owner)).id;
    const ids = [];
    for (const name of ['one', 'two', 'three']) ids.push((await createKey(owner, org, { name })).id);
    const first = await send('GET', `/v1/orgs/${org}/api-keys?limit=2`, owner.token);
    expect(first.json().items.map((k: { name: string }) => k.name)).toEqual(['three', 'two']);
    const second = await send(
      'GET',
      `/v1/orgs/${org}/api-keys?limit=2&cursor=${first.json().nextCursor as string}`,
      owner.token,
    );
    expect(second.json()).toEqual({
      items: [expect.objectContaining({ id: ids[0], name: 'one' })],
      nextCursor: null,
    });
  });

  it('lets admins manage keys but not managers or creators', async () => {
    const admin = await ctx.newUser();
    const manager = await ctx.newUser();
    const creator = await ctx.newUser();
    await ctx.addMember(owner, orgId, admin, 'admin');
    await ctx.addMember(owner, orgId, manager, 'manager');
    await ctx.addMember(owner, orgId, creator, 'creator');
    const byAdmin = await createKey(admin, orgId, { name: 'Admin key', scopes: ['clients.read'] });
    expect(byAdmin.createdBy).toBe(admin.id);
    for (const who of [manager, creator]) {
      expect(
        (await send('POST', `/v1/orgs/${orgId}/api-keys`, who.token, { name: 'x', scopes: ['org.read'] }))
          .statusCode,
      ).toBe(403);
      expect((await send('GET', `/v1/orgs/${orgId}/api-keys`, who.token)).statusCode).toBe(403);
      expect((await send('DELETE', `/v1/orgs/${orgId}/api-keys/${byAdmin.id}`, who.token)).statusCode).toBe(
        403,
      );
    }
    expect((await whoamiByHeader(byAdmin.secret)).statusCode).toBe(200);
  });
});

describe('using a key', () => {
  let owner: TestUser;
  let orgId: string;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner, { type: 'agency' })).id;
  });

  it('identifies itself by x-api-key and by Authorization: Bearer', async () => {
    const key = await createKey(owner, orgId, { scopes: ['org.read', 'clients.read'] });
    for (const res of [await whoamiByHeader(key.secret), await whoamiByBearer(key.secret)]) {
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        apiKeyId: key.id,
        organizationId: orgId,
        scopes: ['org.read', 'clients.read'],
      });
    }
  });

  it('sets last_used_at when used', async () => {
    const key = await createKey(owner, orgId);
    const before = await ctx.database.raw.query<{ last_used_at: Date | null }>(
      'select last_used_at from api_keys where id = $1',
      [key.id],
    );
    expect(before.rows[0]?.last_used_at).toBeNull();
    const start = Date.now();
    expect((await whoamiByHeader(key.secret)).statusCode).toBe(200);
    const after = await ctx.database.raw.query<{ last_used_at: Date | null }>(
      'select last_used_at from api_keys where id = $1',
      [key.id],
    );
    const used = after.rows[0]?.last_used_at;
    expect(used).toBeInstanceOf(Date);
    expect(Math.abs(used!.getTime() - start)).toBeLessThan(60_000);
    const listed = (await send('GET', `/v1/orgs/${orgId}/api-keys`, owner.token)).json().items as {
      id: string;
      lastUsedAt: string | null;
    }[];
    expect(listed.find((k) => k.id === key.id)?.lastUsedAt).not.toBeNull();
  });

  it('carries only its scopes', async () => {
    const key = await createKey(owner, orgId, { scopes: ['org.read'] });
    const headers = { 'x-api-key': key.secret };
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${orgId}`, headers })).statusCode).toBe(200);
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${orgId}/members`, headers })).statusCode).toBe(
      403,
    );
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${orgId}/clients`, headers })).statusCode).toBe(
      403,
    );
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${orgId}/audit-logs`, headers })).statusCode).toBe(
      403,
    );
    expect(
      (await ctx.req({ method: 'PATCH', url: `/v1/orgs/${orgId}`, headers, payload: { name: 'By key' } }))
        .statusCode,
    ).toBe(403);
    // A key cannot mint or revoke keys, nor act as a user.
    expect(
      (
        await ctx.req({
          method: 'POST',
          url: `/v1/orgs/${orgId}/api-keys`,
          headers,
          payload: { name: 'k', scopes: ['org.read'] },
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (await ctx.req({ method: 'DELETE', url: `/v1/orgs/${orgId}/api-keys/${key.id}`, headers })).statusCode,
    ).toBe(403);
    expect((await ctx.req({ method: 'GET', url: '/v1/orgs', headers })).statusCode).toBe(403);

    const reader = await createKey(owner, orgId, { scopes: ['members.read'] });
    const members = await ctx.req({
      method: 'GET',
      url: `/v1/orgs/${orgId}/members`,
      headers: { 'x-api-key': reader.secret },
    });
    expect(members.statusCode).toBe(200);
    expect(members.json().items).toEqual([expect.objectContaining({ userId: owner.id, role: 'owner' })]);
  });

  it('is refused once expired', async () => {
    const key = await createKey(owner, orgId, { expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    expect((await whoamiByHeader(key.secret)).statusCode).toBe(200);
    await ctx.database.raw.query(
      "update api_keys set expires_at = now() - interval '1 second' where id = $1",
      [key.id],
    );
    expect((await whoamiByHeader(key.secret)).statusCode).toBe(401);
  });

  it('is refused once its organization is deleted', async () => {
    const org = (await ctx.newOrg(owner)).id;
    const key = await createKey(owner, org);
    expect((await send('DELETE', `/v1/orgs/${org}`, owner.token)).statusCode).toBe(204);
    expect((await whoamiByHeader(key.secret)).statusCode).toBe(401);
  });
});

describe('revoking a key', () => {
  let owner: TestUser;
  let orgId: string;
  beforeAll(async () => {
    owner = await ctx.newUser();
    orgId = (await ctx.newOrg(owner)).id;
  });

  it('refuses the key on its very next request, in either header', async () => {
    const key = await createKey(owner, orgId);
    const other = await createKey(owner, orgId, { name: 'Survivor' });
    expect((await whoamiByHeader(key.secret)).statusCode).toBe(200);
    expect((await whoamiByBearer(key.secret)).statusCode).toBe(200);

    const res = await send('DELETE', `/v1/orgs/${orgId}/api-keys/${key.id}`, owner.token);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: key.id, name: 'Partner' });
    expect(res.json().revokedAt).not.toBeNull();
    expect(res.json()).not.toHaveProperty('secret');

    for (const attempt of [await whoamiByHeader(key.secret), await whoamiByBearer(key.secret)]) {
      expect(attempt.statusCode).toBe(401);
      expect(attempt.json().code).toBe('invalid_api_key');
    }
    const orgRead = await ctx.req({
      method: 'GET',
      url: `/v1/orgs/${orgId}`,
      headers: { 'x-api-key': key.secret },
    });
    expect(orgRead.statusCode).toBe(401);
    // Other keys are unaffected.
    expect((await whoamiByHeader(other.secret)).statusCode).toBe(200);

    const { rows } = await ctx.database.raw.query<{ revoked_at: Date | null; revoked_by: string | null }>(
      'select revoked_at, revoked_by from api_keys where id = $1',
      [key.id],
    );
    expect(rows[0]?.revoked_at).toBeInstanceOf(Date);
    expect(rows[0]?.revoked_by).toBe(owner.id);
    expect((await auditRows(orgId, 'api_key.revoked')).filter((r) => r.resource_id === key.id)).toEqual([
      expect.objectContaining({ user_id: owner.id }),
    ]);
  });

  it('refuses to revoke twice with 409 and an unknown key with 404', async () => {
    const key = await createKey(owner, orgId);
    expect((await send('DELETE', `/v1/orgs/${orgId}/api-keys/${key.id}`, owner.token)).statusCode).toBe(200);
    const twice = await send('DELETE', `/v1/orgs/${orgId}/api-keys/${key.id}`, owner.token);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('already_revoked');
    expect((await send('DELETE', `/v1/orgs/${orgId}/api-keys/${NOBODY}`, owner.token)).statusCode).toBe(404);
    expect((await auditRows(orgId, 'api_key.revoked')).filter((r) => r.resource_id === key.id)).toHaveLength(
      1,
    );
  });

  it('keeps revoked keys in the list, still without secrets', async () => {
    const key = await createKey(owner, orgId, { name: 'Listed revoked' });
    await send('DELETE', `/v1/orgs/${orgId}/api-keys/${key.id}`, owner.token);
    const list = await send('GET', `/v1/orgs/${orgId}/api-keys?limit=100`, owner.token);
    const item = (list.json().items as { id: string; revokedAt: string | null }[]).find(
      (k) => k.id === key.id,
    );
    expect(item?.revokedAt).not.toBeNull();
    expect(list.body).not.toContain(key.secret);
  });
});

describe('keys across tenants', () => {
  let ownerA: TestUser;
  let ownerB: TestUser;
  let orgA: string;
  let orgB: string;
  let keyA: CreatedKey;
  let keyB: CreatedKey;
  beforeAll(async () => {
    [ownerA, ownerB] = await Promise.all([ctx.newUser(), ctx.newUser()]);
    orgA = (await ctx.newOrg(ownerA)).id;
    orgB = (await ctx.newOrg(ownerB)).id;
    keyA = await createKey(ownerA, orgA, { scopes: ['org.read', 'members.read', 'clients.read'] });
    keyB = await createKey(ownerB, orgB, { name: 'B only' });
  });

  it("answers 404 to another organization's key routes", async () => {
    const attempts: [Method, string, unknown][] = [
      ['GET', `/v1/orgs/${orgB}/api-keys`, undefined],
      ['POST', `/v1/orgs/${orgB}/api-keys`, { name: 'Planted', scopes: ['org.read'] }],
      ['DELETE', `/v1/orgs/${orgB}/api-keys/${keyB.id}`, undefined],
      // A's organization id with B's key id.
      ['DELETE', `/v1/orgs/${orgA}/api-keys/${keyB.id}`, undefined],
    ];
    for (const [method, url, payload] of attempts) {
      const res = await send(method, url, ownerA.token, payload as InjectOptions['payload']);
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
    }
    expect((await whoamiByHeader(keyB.secret)).statusCode).toBe(200);
    const list = (await send('GET', `/v1/orgs/${orgB}/api-keys`, ownerB.token)).json().items as {
      name: string;
      revokedAt: unknown;
    }[];
    expect(list).toEqual([expect.objectContaining({ name: 'B only', revokedAt: null })]);
  });

  it("does not list another organization's keys", async () => {
    const list = (await send('GET', `/v1/orgs/${orgA}/api-keys`, ownerA.token)).json().items as {
      id: string;
    }[];
    expect(list.map((k) => k.id)).toEqual([keyA.id]);
  });

  it('lets a key read its own organization only, with the same 404 as an unknown one', async () => {
    const headers = { 'x-api-key': keyA.secret };
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${orgA}`, headers })).statusCode).toBe(200);
    for (const url of [
      `/v1/orgs/${orgB}`,
      `/v1/orgs/${orgB}/members`,
      `/v1/orgs/${orgB}/clients`,
      `/v1/orgs/${orgB}/audit-logs`,
    ]) {
      const res = await ctx.req({ method: 'GET', url, headers });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 404 });
    }
    const real = await ctx.req({ method: 'GET', url: `/v1/orgs/${orgB}`, headers });
    const none = await ctx.req({ method: 'GET', url: `/v1/orgs/${NOBODY}`, headers });
    expect(real.json().detail).toBe(none.json().detail);
  });
});
