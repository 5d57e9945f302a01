import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type LightMyRequestResponse, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { createSecretBox } from '../../core/secret-box.ts';
import { LMS_SECRET_PURPOSE } from './lms.service.ts';
import { createLmsClient, LmsError } from './lms.client.ts';

// No real LMS is reachable here: a local server answers as Moodle's REST web services and
// Canvas's API do, error shapes included.

const MOODLE_TOKEN = 'moodle-token-0123456789abcdef';
const CANVAS_TOKEN = 'canvas-token-9876~abcdefABCDEF';
const SECRET = 'test-secret-test-secret-test-secret!';

interface Seen {
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

let ctx: TestContext;
let lms: Server;
let base: string;
const seen: Seen[] = [];

function fakeLms(req: IncomingMessage, res: import('node:http').ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  seen.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === '/moodle/webservice/rest/server.php') {
    // Moodle answers every failure with 200 and an exception object.
    if (url.searchParams.get('moodlewsrestformat') !== 'json') return json(200, { exception: 'invalid_parameter_exception', errorcode: 'invalidparameter', message: 'Invalid parameter value detected' });
    if (url.searchParams.get('wstoken') !== MOODLE_TOKEN) {
      return json(200, { exception: 'moodle_exception', errorcode: 'invalidtoken', message: 'Invalid token - token not found' });
    }
    switch (url.searchParams.get('wsfunction') ?? '') {
      case 'core_webservice_get_site_info':
        return json(200, { sitename: 'Fanfare Test Moodle', username: 'wsuser', fullname: 'Web Service', release: '4.3', userid: 3 });
      case 'core_course_get_courses':
        return json(200, [
          { id: 1, shortname: 'site', fullname: 'Front page', format: 'site' },
          { id: 2, shortname: 'ALG1', fullname: 'Algebra I', format: 'topics' },
          { id: 7, shortname: 'MUS', fullname: 'Music theory', format: 'weeks' },
        ]);
      default:
        return json(200, { exception: 'dml_missing_record_exception', errorcode: 'invalidrecord', message: 'Can not find data record in database table external_functions.' });
    }
  }
  if (url.pathname.startsWith('/canvas/api/v1/')) {
    if (req.headers.authorization !== `Bearer ${CANVAS_TOKEN}`) {
      return json(401, { errors: [{ message: 'Invalid access token.' }] }, { 'www-authenticate': 'Bearer realm="canvas-lms"' });
    }
    if (url.pathname === '/canvas/api/v1/users/self') return json(200, { id: 12, name: 'Terry Teacher', sortable_name: 'Teacher, Terry' });
    if (url.pathname === '/canvas/api/v1/courses') {
      const page = Number(url.searchParams.get('page') ?? '1');
      const next = `<${base}/canvas/api/v1/courses?page=2&per_page=100>; rel="next", <${base}/canvas/api/v1/courses?page=1&per_page=100>; rel="first"`;
      if (page === 1) return json(200, [{ id: 101, name: 'Biology', course_code: 'BIO' }, { id: 102, name: 'Chemistry', course_code: 'CHE' }], { link: next });
      return json(200, [{ id: 103, name: 'Physics', course_code: 'PHY' }], { link: `<${base}/canvas/api/v1/courses?page=1&per_page=100>; rel="first"` });
    }
    return json(404, { errors: [{ message: 'The specified resource does not exist.' }] });
  }
  if (url.pathname.startsWith('/slow/')) return; // never answers
  if (url.pathname.startsWith('/moved/')) {
    res.writeHead(301, { location: 'https://elsewhere.example/new/webservice/rest/server.php?wstoken=leak' });
    return res.end();
  }
  if (url.pathname.startsWith('/html/')) {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end('<html><body>Not an LMS</body></html>');
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}

beforeAll(async () => {
  lms = createServer(fakeLms);
  await new Promise<void>((resolve) => lms.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(lms.address() as AddressInfo).port}`;
  ctx = await createTestContext({ LMS_HTTP_TIMEOUT_MS: '400' });
});
afterAll(async () => {
  await ctx?.close();
  lms.closeAllConnections();
  await new Promise((resolve) => lms.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
});

type Res = LightMyRequestResponse;

function expectProblem(res: Res, status: number, paths?: string[]) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json();
  if (paths) expect(body.errors.map((e: { path: string }) => e.path)).toEqual(paths);
  return body as { code?: string; detail: string };
}

const moodle = () => ({ platform: 'moodle', url: `${base}/moodle/`, apiKey: MOODLE_TOKEN });
const canvas = () => ({ platform: 'canvas', url: `${base}/canvas`, apiKey: CANVAS_TOKEN });

async function connect(user: TestUser, body: Record<string, unknown>) {
  const res = await ctx.req({ method: 'POST', url: '/v1/lms/connections', token: user.token, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string; status: string; url: string }>();
}

async function rawRow(id: string) {
  const { rows } = await ctx.database.raw.query<Record<string, unknown>>('select * from lms_connections where id = $1', [id]);
  return rows[0];
}

async function countRows() {
  const { rows } = await ctx.database.raw.query<{ n: number }>('select count(*)::int as n from lms_connections');
  return rows[0]!.n;
}

const test = (user: TestUser, id: string) => ctx.req({ method: 'POST', url: `/v1/lms/connections/${id}/test`, token: user.token });
const get = (user: TestUser, id: string) => ctx.req({ method: 'GET', url: `/v1/lms/connections/${id}`, token: user.token });

describe('creating and reading connections', () => {
  it('creates a personal connection, normalises the address and never returns the key', async () => {
    const u = await ctx.newUser();
    const res = await ctx.req({ method: 'POST', url: '/v1/lms/connections', token: u.token, payload: { ...moodle(), apiSecret: 'shh-secret' } });
    expect(res.statusCode, res.body).toBe(201);
    const c = res.json();
    expect(c).toMatchObject({ userId: u.id, organizationId: null, platform: 'moodle', url: `${base}/moodle`, status: 'active', hasApiKey: true, hasApiSecret: true, lastSyncAt: null });
    expect(res.body).not.toContain(MOODLE_TOKEN);
    expect(res.body).not.toContain('shh-secret');
    expect(res.body).not.toMatch(/apiKey"|apiSecret"/);

    const one = await get(u, c.id);
    expect(one.statusCode).toBe(200);
    expect(one.json().id).toBe(c.id);
    expect(one.body).not.toContain(MOODLE_TOKEN);
  });

  it('lists my connections newest first with cursor pagination', async () => {
    const u = await ctx.newUser();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await connect(u, i % 2 ? canvas() : moodle())).id);
    const first = await ctx.req({ method: 'GET', url: '/v1/lms/connections?limit=2', token: u.token });
    expect(first.statusCode).toBe(200);
    const page1 = first.json<{ items: { id: string }[]; nextCursor: string }>();
    expect(page1.items.map((c) => c.id)).toEqual([ids[2], ids[1]]);
    expect(page1.nextCursor).toBeTruthy();
    const second = await ctx.req({ method: 'GET', url: `/v1/lms/connections?limit=2&cursor=${page1.nextCursor}`, token: u.token });
    expect(second.json()).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    expect(first.body + second.body).not.toContain(MOODLE_TOKEN);
  });

  it('stores the key and secret encrypted (AES-256-GCM), bound to their row and column', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, { ...canvas(), apiSecret: 'canvas-dev-secret' });
    const row = (await rawRow(c.id))!;
    expect(row.api_key).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(String(row.api_key)).not.toContain(CANVAS_TOKEN);
    expect(String(row.api_secret)).not.toContain('canvas-dev-secret');
    const box = createSecretBox(SECRET, LMS_SECRET_PURPOSE);
    expect(box.open(String(row.api_key), `lms_connections:${c.id}:api_key`)).toBe(CANVAS_TOKEN);
    expect(box.open(String(row.api_secret), `lms_connections:${c.id}:api_secret`)).toBe('canvas-dev-secret');
    expect(() => box.open(String(row.api_key), `lms_connections:${c.id}:api_secret`)).toThrow();
    expect(() => createSecretBox('another-secret-another-secret-xx', LMS_SECRET_PURPOSE).open(String(row.api_key), `lms_connections:${c.id}:api_key`)).toThrow();

    // A key copied into another connection does not decrypt there: the test says so plainly.
    const other = await connect(u, canvas());
    await ctx.database.raw.query('update lms_connections set api_key = $1 where id = $2', [row.api_key, other.id]);
    const res = await test(u, other.id);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: false, error: { code: 'undecryptable' }, connection: { status: 'error' } });
    expect(seen).toHaveLength(0);
  });
});

describe('bad input', () => {
  it('refuses bad bodies on create with 400 naming the field, and creates nothing', async () => {
    const u = await ctx.newUser();
    const before = await countRows();
    const cases: [Record<string, unknown>, string][] = [
      [{ url: `${base}/moodle`, apiKey: 'k' }, 'body.platform'],
      [{ ...moodle(), platform: 'blackboard' }, 'body.platform'],
      [{ ...moodle(), url: 'ftp://moodle.example.edu' }, 'body.url'],
      [{ ...moodle(), url: 'javascript:alert(1)' }, 'body.url'],
      [{ ...moodle(), url: 'file:///etc/passwd' }, 'body.url'],
      [{ ...moodle(), url: 'not a url' }, 'body.url'],
      [{ ...moodle(), url: 'https://user:pw@moodle.example.edu' }, 'body.url'],
      [{ ...moodle(), url: 'https://moodle.example.edu/?x=1' }, 'body.url'],
      [{ ...moodle(), url: `https://moodle.example.edu/${'a'.repeat(500)}` }, 'body.url'],
      [{ platform: 'moodle', url: `${base}/moodle` }, 'body.apiKey'],
      [{ ...moodle(), apiKey: '   ' }, 'body.apiKey'],
      [{ ...moodle(), apiSecret: 42 }, 'body.apiSecret'],
      [{ ...moodle(), organizationId: 'not-a-uuid' }, 'body.organizationId'],
    ];
    for (const [payload, path] of cases) {
      const res = await ctx.req({ method: 'POST', url: '/v1/lms/connections', token: u.token, payload });
      const body = expectProblem(res, 400);
      expect((body as unknown as { errors: { path: string }[] }).errors.map((e) => e.path), JSON.stringify(payload)).toContain(path);
    }
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/lms/connections', token: u.token, payload: { ...moodle(), status: 'error' } }), 400);
    expect(await countRows()).toBe(before);
  });

  it('refuses bad queries, ids and patches with 400 naming the field, and changes nothing', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, moodle());
    const rowBefore = await rawRow(c.id);
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/lms/connections?limit=0', token: u.token }), 400, ['querystring.limit']);
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/lms/connections?organizationId=x', token: u.token }), 400, ['querystring.organizationId']);
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/lms/connections?cursor=nope', token: u.token }), 400, ['querystring.cursor']);
    for (const [method, url] of [
      ['GET', '/v1/lms/connections/123'],
      ['PATCH', '/v1/lms/connections/123'],
      ['DELETE', '/v1/lms/connections/123'],
      ['POST', '/v1/lms/connections/123/test'],
      ['POST', '/v1/lms/connections/123/sync'],
    ] as const) {
      const res = await ctx.req({ method, url, token: u.token, ...(method === 'PATCH' ? { payload: { status: 'inactive' } } : {}) });
      expectProblem(res, 400, ['params.id']);
    }
    const patch = (payload: unknown) => ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: u.token, payload: payload as Record<string, unknown> });
    expectProblem(await patch({}), 400);
    expectProblem(await patch({ url: 'gopher://old.example' }), 400, ['body.url']);
    expectProblem(await patch({ status: 'error' }), 400, ['body.status']);
    expectProblem(await patch({ apiKey: '' }), 400, ['body.apiKey']);
    expectProblem(await patch({ platform: 'canvas' }), 400);
    expect(await rawRow(c.id)).toEqual(rowBefore);
  });
});

describe('who may see and change a connection', () => {
  it('answers 401 on every route without a session', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, moodle());
    for (const [method, url] of [
      ['POST', '/v1/lms/connections'],
      ['GET', '/v1/lms/connections'],
      ['GET', `/v1/lms/connections/${c.id}`],
      ['PATCH', `/v1/lms/connections/${c.id}`],
      ['DELETE', `/v1/lms/connections/${c.id}`],
      ['POST', `/v1/lms/connections/${c.id}/test`],
      ['POST', `/v1/lms/connections/${c.id}/sync`],
    ] as const) {
      const payload = method === 'POST' && url.endsWith('connections') ? moodle() : method === 'PATCH' ? { status: 'inactive' } : undefined;
      expectProblem(await ctx.req({ method, url, ...(payload ? { payload } : {}) }), 401);
    }
    expect((await rawRow(c.id))!.status).toBe('active');
    expect(seen).toHaveLength(0);
  });

  it("hides another user's connection: 404 on every route, absent from their list", async () => {
    const owner = await ctx.newUser();
    const stranger = await ctx.newUser();
    const c = await connect(owner, moodle());
    const before = await rawRow(c.id);
    expectProblem(await get(stranger, c.id), 404);
    expectProblem(await ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: stranger.token, payload: { apiKey: 'mine-now' } }), 404);
    expectProblem(await ctx.req({ method: 'DELETE', url: `/v1/lms/connections/${c.id}`, token: stranger.token }), 404);
    expectProblem(await test(stranger, c.id), 404);
    expectProblem(await ctx.req({ method: 'POST', url: `/v1/lms/connections/${c.id}/sync`, token: stranger.token }), 404);
    const list = await ctx.req({ method: 'GET', url: '/v1/lms/connections', token: stranger.token });
    expect(list.json().items).toEqual([]);
    expect(await rawRow(c.id)).toEqual(before);
    expect(seen).toHaveLength(0);
  });

  it('lets members with lms.manage manage an organization’s connections, and nobody else', async () => {
    const owner = await ctx.newUser({ role: 'partner' });
    const manager = await ctx.newUser();
    const creator = await ctx.newUser();
    const outsider = await ctx.newUser();
    const org = await ctx.newOrg(owner, { type: 'partner' });
    await ctx.addMember(owner, org.id, manager, 'manager');
    await ctx.addMember(owner, org.id, creator, 'creator');

    const c = await connect(owner, { ...canvas(), organizationId: org.id });
    expect(c).toMatchObject({ organizationId: org.id });
    // A personal connection of the owner is not the organization's.
    const personal = await connect(owner, moodle());

    const orgList = await ctx.req({ method: 'GET', url: `/v1/lms/connections?organizationId=${org.id}`, token: manager.token });
    expect(orgList.statusCode).toBe(200);
    expect(orgList.json().items.map((i: { id: string }) => i.id)).toEqual([c.id]);
    expect((await get(manager, c.id)).statusCode).toBe(200);
    const patched = await ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: manager.token, payload: { status: 'inactive' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().status).toBe('inactive');
    expectProblem(await get(manager, personal.id), 404);

    // A member whose role lacks lms.manage: 403 (they know the organization).
    expectProblem(await get(creator, c.id), 403);
    expectProblem(await ctx.req({ method: 'GET', url: `/v1/lms/connections?organizationId=${org.id}`, token: creator.token }), 403);
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/lms/connections', token: creator.token, payload: { ...moodle(), organizationId: org.id } }), 403);
    // Outside the organization: 404, the organization's ids leak nothing.
    expectProblem(await get(outsider, c.id), 404);
    expectProblem(await ctx.req({ method: 'DELETE', url: `/v1/lms/connections/${c.id}`, token: outsider.token }), 404);
    expectProblem(await ctx.req({ method: 'GET', url: `/v1/lms/connections?organizationId=${org.id}`, token: outsider.token }), 404);
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/lms/connections', token: outsider.token, payload: { ...moodle(), organizationId: org.id } }), 404);

    // An organization API key is not a person: it cannot manage LMS connections.
    const key = await ctx.req({ method: 'POST', url: `/v1/orgs/${org.id}/api-keys`, token: owner.token, payload: { name: 'Partner', scopes: ['org.read'] } });
    expect(key.statusCode, key.body).toBe(201);
    expectProblem(await ctx.req({ method: 'GET', url: `/v1/lms/connections/${c.id}`, headers: { 'x-api-key': key.json().secret } }), 403);

    const del = await ctx.req({ method: 'DELETE', url: `/v1/lms/connections/${c.id}`, token: manager.token });
    expect(del.statusCode).toBe(204);
    expect(await rawRow(c.id)).toBeUndefined();
    const { rows } = await ctx.database.raw.query<{ action: string; user_id: string }>(
      `select action, user_id from audit_logs where resource_type = 'lms_connection' and resource_id = $1 order by id`,
      [c.id],
    );
    expect(rows.map((r) => r.action)).toEqual(['lms_connection.created', 'lms_connection.updated', 'lms_connection.deleted']);
    expect(JSON.stringify(rows)).not.toContain(CANVAS_TOKEN);
  });
});

describe('test connection', () => {
  it('Moodle: calls core_webservice_get_site_info with the token and records success', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, moodle());
    const res = await test(u, c.id);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ ok: true, error: null, connection: { status: 'active', siteName: 'Fanfare Test Moodle', lastError: null } });
    expect(body.connection.lastSyncAt).not.toBeNull();
    expect(body.connection.lastTestedAt).not.toBeNull();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('/moodle/webservice/rest/server.php');
    expect(Object.fromEntries(seen[0]!.query)).toEqual({ wstoken: MOODLE_TOKEN, wsfunction: 'core_webservice_get_site_info', moodlewsrestformat: 'json' });
    expect(res.body).not.toContain(MOODLE_TOKEN);
  });

  it('Moodle: a wrong token (HTTP 200 with errorcode invalidtoken) is a failure with a clear error', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, { ...moodle(), apiKey: 'wrong-token' });
    const res = await test(u, c.id);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ ok: false, error: { code: 'invalid_token' }, connection: { status: 'error', lastSyncAt: null } });
    expect(body.error.message).toContain('invalidtoken');
    expect(body.connection.lastError).toBe(body.error.message);
    expect(res.body).not.toContain('wrong-token');

    // A new key clears the error until the next test, which then succeeds.
    const fixed = await ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: u.token, payload: { apiKey: MOODLE_TOKEN } });
    expect(fixed.json()).toMatchObject({ status: 'active', lastError: null });
    expect((await test(u, c.id)).json()).toMatchObject({ ok: true, connection: { status: 'active' } });
  });

  it('Canvas: calls /api/v1/users/self with the bearer token; a 401 is a failure', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, canvas());
    const ok = await test(u, c.id);
    expect(ok.json()).toMatchObject({ ok: true, connection: { status: 'active', siteName: new URL(base).host } });
    expect(seen.at(-1)).toMatchObject({ path: '/canvas/api/v1/users/self', authorization: `Bearer ${CANVAS_TOKEN}` });

    await ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: u.token, payload: { apiKey: 'expired-canvas-token' } });
    const bad = await test(u, c.id);
    expect(bad.json()).toMatchObject({ ok: false, error: { code: 'invalid_token', message: 'Canvas refused the token: Invalid access token.' }, connection: { status: 'error' } });
    // The last success's time stays: last_sync_at is when the site last answered.
    expect(bad.json().connection.lastSyncAt).toBe(ok.json().connection.lastSyncAt);
  });

  it('reports an unreachable site, a timeout, a redirect and a non-LMS answer, without leaking the key', async () => {
    const u = await ctx.newUser();
    const cases: [string, string, string][] = [
      ['http://127.0.0.1:1', 'unreachable', 'Could not reach Moodle at http://127.0.0.1:1'],
      [`${base}/slow/moodle`, 'timeout', 'did not answer within 0.4 s'],
      [`${base}/moved/moodle`, 'redirected', 'redirect to https://elsewhere.example/new/webservice/rest/server.php'],
      [`${base}/html/moodle`, 'bad_response', 'did not answer with JSON'],
      [`${base}/nothing-here`, 'http_error', 'HTTP 404'],
    ];
    for (const [url, code, message] of cases) {
      const c = await connect(u, { ...moodle(), url });
      const res = await test(u, c.id);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.ok).toBe(false);
      expect(body.error.code, url).toBe(code);
      expect(body.error.message).toContain(message);
      expect(body.connection.status).toBe('error');
      expect(res.body).not.toContain(MOODLE_TOKEN);
      expect(res.body).not.toContain('wstoken');
    }
  });

  it('can test a switched-off connection without switching it on', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, moodle());
    await ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: u.token, payload: { status: 'inactive' } });
    expect((await test(u, c.id)).json()).toMatchObject({ ok: true, connection: { status: 'inactive' } });
  });
});

describe('course sync', () => {
  const sync = (user: TestUser, id: string) => ctx.req({ method: 'POST', url: `/v1/lms/connections/${id}/sync`, token: user.token });

  it('Moodle: queues a job that stores the courses (not the front page) and last_sync_at', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, moodle());
    const res = await sync(u, c.id);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().queued).toBe(true);
    // One job per connection at a time.
    expect((await sync(u, c.id)).statusCode).toBe(202);
    expect((await get(u, c.id)).json().lastSyncAt).toBeNull();
    await ctx.drain();
    expect(seen.filter((s) => s.query.get('wsfunction') === 'core_course_get_courses')).toHaveLength(1);
    const after = (await get(u, c.id)).json();
    expect(after).toMatchObject({
      status: 'active',
      courseCount: 2,
      courses: [
        { id: '2', name: 'Algebra I', code: 'ALG1' },
        { id: '7', name: 'Music theory', code: 'MUS' },
      ],
    });
    expect(after.lastSyncAt).not.toBeNull();
  });

  it('Canvas: follows the Link header across pages', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, canvas());
    expect((await sync(u, c.id)).statusCode).toBe(202);
    await ctx.drain();
    expect(seen.map((s) => s.path)).toEqual(['/canvas/api/v1/courses', '/canvas/api/v1/courses']);
    expect(seen.every((s) => s.authorization === `Bearer ${CANVAS_TOKEN}`)).toBe(true);
    const after = (await get(u, c.id)).json();
    expect(after).toMatchObject({ status: 'active', courseCount: 3 });
    expect(after.courses.map((x: { name: string }) => x.name)).toEqual(['Biology', 'Chemistry', 'Physics']);
  });

  it('records a failed sync on the connection, and refuses to sync a switched-off one', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, { ...canvas(), apiKey: 'revoked-token' });
    expect((await sync(u, c.id)).statusCode).toBe(202);
    await ctx.drain();
    expect((await get(u, c.id)).json()).toMatchObject({ status: 'error', lastSyncAt: null, courseCount: null, lastError: 'Canvas refused the token: Invalid access token.' });

    await ctx.req({ method: 'PATCH', url: `/v1/lms/connections/${c.id}`, token: u.token, payload: { status: 'inactive' } });
    expect(expectProblem(await sync(u, c.id), 409).code).toBe('connection_inactive');
  });

  it('a job for a connection deleted meanwhile does nothing', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, moodle());
    expect((await sync(u, c.id)).statusCode).toBe(202);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/lms/connections/${c.id}`, token: u.token })).statusCode).toBe(204);
    await ctx.drain();
    expect(seen).toHaveLength(0);
    expectProblem(await get(u, c.id), 404);
  });
});

describe('outbound call limits', () => {
  it('allows 30 tests a minute per caller, then answers 429', async () => {
    const u = await ctx.newUser();
    const c = await connect(u, { ...moodle(), url: 'http://127.0.0.1:1' });
    for (let i = 0; i < 30; i++) expect((await test(u, c.id)).statusCode).toBe(200);
    const limited = await test(u, c.id);
    expectProblem(limited, 429);
    expect(limited.headers['retry-after']).toBeDefined();
    // Another caller has a budget of its own.
    const other = await ctx.newUser();
    const theirs = await connect(other, moodle());
    expect((await test(other, theirs.id)).statusCode).toBe(200);
  });
});

describe('private addresses (SSRF)', () => {
  it('refuses a site on a loopback or private address when private targets are not allowed, calling nothing', async () => {
    const strict = createLmsClient({ timeoutMs: 400, allowPrivate: false });
    for (const url of [`${base}/moodle`, 'http://10.0.0.8/moodle', 'http://169.254.169.254/latest', `http://[::1]:${new URL(base).port}/moodle`]) {
      const err = await strict.siteInfo({ platform: 'moodle', url, apiKey: MOODLE_TOKEN, apiSecret: null }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, url).toBeInstanceOf(LmsError);
      expect((err as LmsError).code).toBe('forbidden_address');
      expect((err as LmsError).message).toMatch(/^Moodle refused: http:\/\/\S+ is a loopback, private or reserved address/);
      expect((err as LmsError).message).not.toContain(MOODLE_TOKEN);
    }
    expect(seen).toEqual([]);
    // The same site is reached when they are allowed (what tests and development default to).
    const open = createLmsClient({ timeoutMs: 400, allowPrivate: true });
    expect(await open.siteInfo({ platform: 'moodle', url: `${base}/moodle`, apiKey: MOODLE_TOKEN, apiSecret: null })).toMatchObject({ siteName: expect.any(String) });
    expect(seen.length).toBeGreaterThan(0);
  });
});
