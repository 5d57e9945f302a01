import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, testConfig, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { createLogger } from '../../core/logger.ts';
import { ManualClock } from '../../core/clock.ts';
import { newId } from '../../core/ids.ts';
import { createPayplayRepository } from '../payplay/index.ts';
import { createWebhookRepository } from './webhooks.repository.ts';
import { createWebhookSecretBox, createWebhookService, retryDelaySeconds } from './webhooks.service.ts';
import { signWebhook, verifyWebhookSignature } from './webhooks.signature.ts';

const clock = new ManualClock(Date.UTC(2026, 2, 2, 10, 0, 0));
let ctx: TestContext;
let receiver: Server;
let hookBase: string;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
}
const received: Received[] = [];
/** Statuses the receiver answers on a path, in order; 200 once they run out. */
const script = new Map<string, number[]>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body, json: JSON.parse(body) as Received['json'] });
      const status = script.get(path)?.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'receiver is down');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // Three attempts, retried at once (base 0), so the retry schedule runs inside drain().
  ctx = await createTestContext(
    {
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_RETRY_BASE_SECONDS: '0',
      WEBHOOK_TIMEOUT_MS: '2000',
      PAYPLAY_IDLE_SECONDS: '120',
    },
    { clock },
  );
});
afterAll(async () => {
  await ctx?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});
beforeEach(() => {
  received.length = 0;
  script.clear();
});

interface Partner {
  owner: TestUser;
  orgId: string;
  platformId: string;
  key: string;
  secret: string | undefined;
  path: string;
}
interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function newPartner(opts: { webhook?: boolean } = {}): Promise<Partner> {
  const owner = await ctx.newUser({ role: 'partner' });
  const org = await ctx.newOrg(owner);
  const path = `/hooks/${newId()}`;
  const p = await ctx.req({
    method: 'POST',
    url: `/v1/orgs/${org.id}/platforms`,
    token: owner.token,
    payload: {
      name: 'StreamCo',
      type: 'video',
      currency: 'USD',
      pricePerMinute: 50,
      ...(opts.webhook === false ? {} : { webhookUrl: `${hookBase}${path}` }),
    },
  });
  expect(p.statusCode, p.body).toBe(201);
  const { id: platformId, webhookSecret } = p.json<{ id: string; webhookSecret?: string }>();
  const k = await ctx.req({
    method: 'POST',
    url: `/v1/orgs/${org.id}/platforms/${platformId}/keys`,
    token: owner.token,
    payload: { name: 'prod' },
  });
  expect(k.statusCode, k.body).toBe(201);
  return {
    owner,
    orgId: org.id,
    platformId,
    key: k.json<{ secret: string }>().secret,
    secret: webhookSecret,
    path,
  };
}

async function fund(userId: string, amount: number): Promise<void> {
  const { ledger } = ctx.services;
  const w = await ledger.wallet({ userId }, 'USD');
  const adjustments = await ledger.platformAccount('adjustments', 'USD');
  await ledger.transfer({
    key: `test:fund:${newId()}`,
    kind: 'adjustment',
    currency: 'USD',
    legs: [
      { accountId: adjustments, amount: -amount },
      { accountId: w.available, amount },
    ],
  });
}

async function consent(p: Partner, externalRef: string | null = null): Promise<{ id: string; code: string }> {
  const c = await ctx.req({
    method: 'POST',
    url: '/v1/payplay/partner/consents',
    headers: bearer(p.key),
    payload: { pricePerMinute: 10, externalRef },
  });
  expect(c.statusCode, c.body).toBe(201);
  return c.json();
}
async function grant(p: Partner, user: TestUser, externalRef: string | null = null): Promise<string> {
  const { id, code } = await consent(p, externalRef);
  const a = await ctx.req({
    method: 'POST',
    url: `/v1/payplay/grants/${code}/approve`,
    token: user.token,
    payload: {},
  });
  expect(a.statusCode, a.body).toBe(200);
  return id;
}
async function start(p: Partner, grantId: string): Promise<string> {
  const r = await ctx.req({
    method: 'POST',
    url: '/v1/payplay/partner/sessions',
    headers: bearer(p.key),
    payload: { grantId, contentId: 'movie-1', pricePerMinute: 10 },
  });
  expect(r.statusCode, r.body).toBe(201);
  return r.json<{ id: string }>().id;
}

const deliveries = async (p: Partner, query = ''): Promise<Delivery[]> => {
  const r = await ctx.req({
    method: 'GET',
    url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/webhook-deliveries${query}`,
    token: p.owner.token,
  });
  expect(r.statusCode, r.body).toBe(200);
  return r.json<{ items: Delivery[] }>().items;
};
const to = (p: Partner, type?: string) =>
  received.filter((r) => r.path === p.path && (!type || r.json.type === type));
const countRows = async (sql: string, params: unknown[]) =>
  Number((await ctx.database.raw.query<{ n: string }>(sql, params)).rows[0]!.n);

describe('the signature', () => {
  const secret = 'whsec_test_secret';
  const body = '{"id":"e1","type":"session.ended","data":{"totalCost":20}}';
  const now = 1_800_000_000;

  it('accepts what it signed, and refuses a tampered body, another secret, an old timestamp and a malformed header', () => {
    const header = signWebhook(secret, body, now);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(header.split('v1=')[1]).toBe(createHmac('sha256', secret).update(`${now}.${body}`).digest('hex'));
    expect(verifyWebhookSignature({ body, header, secret, nowSeconds: now + 10 })).toEqual({
      ok: true,
      timestamp: now,
    });
    expect(
      verifyWebhookSignature({ body: body.replace('20', '2000'), header, secret, nowSeconds: now }),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature({ body, header, secret: 'whsec_other', nowSeconds: now })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyWebhookSignature({ body, header, secret, nowSeconds: now + 301 })).toEqual({
      ok: false,
      reason: 'too_old',
    });
    expect(
      verifyWebhookSignature({ body, header, secret, nowSeconds: now + 3600, toleranceSeconds: 7200 }).ok,
    ).toBe(true);
    // A timestamp changed to look fresh no longer matches the signature.
    expect(
      verifyWebhookSignature({
        body,
        header: header.replace(`t=${now}`, `t=${now + 600}`),
        secret,
        nowSeconds: now + 600,
      }),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    for (const bad of [undefined, '', 'v1=abc', `t=${now}`, `t=soon,v1=${'a'.repeat(64)}`])
      {expect(verifyWebhookSignature({ body, header: bad, secret, nowSeconds: now })).toEqual({
        ok: false,
        reason: 'malformed',
      });}
  });

  it('retries wait base·4^(n−1), at most 12 hours', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelaySeconds(n, 30))).toEqual([
      30, 120, 480, 1920, 7680, 30720, 43200, 43200,
    ]);
    expect(retryDelaySeconds(5, 0)).toBe(0);
  });
});

describe('webhooks to partner platforms', () => {
  it('a session the tick stops for insufficient funds is sent as a correctly signed session.ended', async () => {
    const p = await newPartner();
    expect(p.secret).toMatch(/^whsec_[\w-]{43}$/);
    const user = await ctx.newUser();
    await fund(user.id, 20);
    const g = await grant(p, user, 'viewer-42');
    const s = await start(p, g);
    for (let i = 0; i < 10; i++) {
      clock.advance(30_000);
      await ctx.req({
        method: 'POST',
        url: `/v1/payplay/partner/sessions/${s}/heartbeat`,
        headers: bearer(p.key),
      });
      await ctx.services.payplay.tick();
    }
    const ended = await ctx.req({
      method: 'GET',
      url: `/v1/payplay/partner/sessions/${s}`,
      headers: bearer(p.key),
    });
    expect(ended.json()).toMatchObject({
      status: 'completed',
      endReason: 'insufficient_funds',
      totalCost: 20,
      durationSeconds: 120,
    });
    await ctx.drain();

    const hooks = to(p, 'session.ended');
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['fanfare-event-id']).toBe(hook.json.id);
    expect(
      verifyWebhookSignature({
        body: hook.body,
        header: hook.headers['fanfare-signature'] as string,
        secret: p.secret!,
      }),
    ).toMatchObject({ ok: true });
    expect(
      verifyWebhookSignature({
        body: hook.body,
        header: hook.headers['fanfare-signature'] as string,
        secret: 'whsec_not_this_one',
      }),
    ).toMatchObject({ ok: false });
    expect(hook.json).toMatchObject({
      type: 'session.ended',
      data: {
        sessionId: s,
        grantId: g,
        externalRef: 'viewer-42',
        endReason: 'insufficient_funds',
        status: 'completed',
        durationSeconds: 120,
        totalCost: 20,
        currency: 'USD',
      },
    });
    expect(Object.keys(hook.json).sort()).toEqual(['createdAt', 'data', 'id', 'type']);
    expect(new Date(hook.json.createdAt).toISOString()).toBe(hook.json.createdAt);
    // The approval came first, as grant.approved.
    expect(to(p, 'grant.approved').map((r) => r.json.data)).toMatchObject([
      { grantId: g, status: 'active', externalRef: 'viewer-42' },
    ]);

    const rows = await deliveries(p, '?eventType=session.ended');
    expect(rows).toMatchObject([
      {
        eventId: hook.json.id,
        status: 'delivered',
        attempts: 1,
        lastStatusCode: 200,
        lastError: null,
        nextAttemptAt: null,
      },
    ]);
    expect(rows[0]!.deliveredAt).not.toBeNull();
  });

  it('a 500 from the receiver is retried, then delivered once', async () => {
    const p = await newPartner();
    script.set(p.path, [500]);
    const user = await ctx.newUser();
    const g = await grant(p, user);
    await ctx.drain();
    const hooks = to(p, 'grant.approved');
    expect(hooks).toHaveLength(2);
    expect(hooks[1]!.json.id).toBe(hooks[0]!.json.id);
    expect(hooks[1]!.body).toBe(hooks[0]!.body);
    expect(hooks[1]!.json.data).toMatchObject({ grantId: g });
    const [d] = await deliveries(p);
    expect(d).toMatchObject({
      eventType: 'grant.approved',
      status: 'delivered',
      attempts: 2,
      lastStatusCode: 200,
      lastError: null,
    });
    await ctx.drain();
    expect(to(p)).toHaveLength(2);
  });

  it('after the retry limit the delivery is failed; a redelivery sends the same event again', async () => {
    const p = await newPartner();
    script.set(p.path, [503, 503, 503, 503, 503]);
    const user = await ctx.newUser();
    const { code } = await consent(p);
    const denied = await ctx.req({
      method: 'POST',
      url: `/v1/payplay/grants/${code}/deny`,
      token: user.token,
    });
    expect(denied.statusCode, denied.body).toBe(200);
    await ctx.drain();
    expect(to(p, 'grant.denied')).toHaveLength(3);
    const [d] = await deliveries(p);
    expect(d).toMatchObject({
      eventType: 'grant.denied',
      status: 'failed',
      attempts: 3,
      lastStatusCode: 503,
      nextAttemptAt: null,
      deliveredAt: null,
    });
    expect(d!.lastError).toBe('HTTP 503: receiver is down');
    expect(await deliveries(p, '?status=failed')).toHaveLength(1);
    expect(await deliveries(p, '?status=delivered')).toHaveLength(0);

    script.set(p.path, []);
    const again = await ctx.req({
      method: 'POST',
      url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/webhook-deliveries/${d!.id}/redeliver`,
      token: p.owner.token,
    });
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json()).toMatchObject({ status: 'pending', attempts: 0 });
    await ctx.drain();
    const sent = to(p, 'grant.denied');
    expect(sent).toHaveLength(4);
    expect(sent[3]!.json.id).toBe(d!.eventId);
    expect((await deliveries(p))[0]).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
  });

  it('a grant revoke sends grant.revoked, and the session it stopped as session.ended', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user, 'ref-7');
    const s = await start(p, g);
    const r = await ctx.req({ method: 'POST', url: `/v1/payplay/grants/${g}/revoke`, token: user.token });
    expect(r.statusCode, r.body).toBe(200);
    await ctx.drain();
    expect(to(p, 'grant.revoked').map((h) => h.json.data)).toMatchObject([
      { grantId: g, status: 'revoked', externalRef: 'ref-7' },
    ]);
    expect(to(p, 'grant.revoked')[0]!.json.data.revokedAt).not.toBeNull();
    expect(to(p, 'session.ended').map((h) => h.json.data)).toMatchObject([
      { sessionId: s, grantId: g, endReason: 'grant_revoked', status: 'cancelled', totalCost: 10 },
    ]);
    for (const h of to(p))
      {expect(
        verifyWebhookSignature({
          body: h.body,
          header: h.headers['fanfare-signature'] as string,
          secret: p.secret!,
        }).ok,
      ).toBe(true);}
  });

  it('a tick that ends many sessions records one event each; the partner stop sends one too', async () => {
    const p = await newPartner();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const user = await ctx.newUser();
      await fund(user.id, 1000);
      ids.push(await start(p, await grant(p, user)));
    }
    const stopped = ids.pop()!;
    expect(
      (
        await ctx.req({
          method: 'POST',
          url: `/v1/payplay/partner/sessions/${stopped}/stop`,
          headers: bearer(p.key),
        })
      ).statusCode,
    ).toBe(200);
    clock.advance(121_000); // the other two go idle
    const t = await ctx.services.payplay.tick();
    expect(t.ended).toBeGreaterThanOrEqual(2);
    await ctx.drain();
    const ended = to(p, 'session.ended').map((h) => h.json.data);
    expect(ended.map((d) => d.sessionId).sort()).toEqual([...ids, stopped].sort());
    expect(ended.find((d) => d.sessionId === stopped)).toMatchObject({ endReason: 'stopped' });
    for (const id of ids) expect(ended.find((d) => d.sessionId === id)).toMatchObject({ endReason: 'idle' });
  });

  it('no webhook URL means no delivery rows (the events still pass through the outbox); setting one makes the secret once', async () => {
    const p = await newPartner({ webhook: false });
    expect(p.secret).toBeUndefined();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user);
    const s = await start(p, g);
    await ctx.req({ method: 'POST', url: `/v1/payplay/partner/sessions/${s}/stop`, headers: bearer(p.key) });
    await ctx.drain();
    expect(
      await countRows(
        `select count(*) as n from outbox_events where topic = 'payplay.session_ended' and payload->>'sessionId' = $1 and dispatched_at is not null`,
        [s],
      ),
    ).toBe(1);
    expect(
      await countRows(
        `select count(*) as n from outbox_events where topic = 'payplay.grant_approved' and payload->>'grantId' = $1 and dispatched_at is not null`,
        [g],
      ),
    ).toBe(1);
    expect(
      await countRows('select count(*) as n from webhook_deliveries where platform_id = $1', [p.platformId]),
    ).toBe(0);
    expect(to(p)).toEqual([]);

    const url = `/v1/orgs/${p.orgId}/platforms/${p.platformId}`;
    const set = await ctx.req({
      method: 'PATCH',
      url,
      token: p.owner.token,
      payload: { webhookUrl: `${hookBase}${p.path}` },
    });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().webhookSecret).toMatch(/^whsec_/);
    const again = await ctx.req({ method: 'PATCH', url, token: p.owner.token, payload: { name: 'Renamed' } });
    expect(again.json().webhookSecret).toBeUndefined();
    expect(
      (await ctx.req({ method: 'GET', url, token: p.owner.token })).json().webhookSecret,
    ).toBeUndefined();
  });

  it('a change that rolls back sends nothing: a start refused for lack of funds leaves no event', async () => {
    const p = await newPartner();
    const user = await ctx.newUser(); // no money
    const g = await grant(p, user);
    const r = await ctx.req({ method: 'POST', url: '/v1/payplay/partner/sessions', headers: bearer(p.key), payload: { grantId: g, contentId: 'movie-1', pricePerMinute: 10 } });
    expect(r.statusCode, r.body).toBe(402);
    await ctx.drain();
    expect(to(p).map((h) => h.json.type)).toEqual(['grant.approved']);
    expect(await countRows(`select count(*) as n from playback_sessions where grant_id = $1`, [g])).toBe(0);
    // No event of a session that does not exist (one written outside the transaction would stay).
    expect(
      await countRows(
        `select count(*) as n from outbox_events e where e.topic = 'payplay.session_ended'
            and not exists (select 1 from playback_sessions s where s.id::text = e.payload->>'sessionId')`,
        [],
      ),
    ).toBe(0);
  });

  it('a replayed outbox event does not send twice', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await grant(p, user);
    await ctx.drain();
    expect(to(p)).toHaveLength(1);
    const eventId = to(p)[0]!.json.id;
    // The dispatcher lost track of the event (a crash after the handler ran): it runs again.
    await ctx.database.raw.query(
      'update outbox_events set dispatched_at = null, locked_until = null where id = $1',
      [eventId],
    );
    await ctx.drain();
    expect(
      await countRows('select count(*) as n from outbox_events where id = $1 and dispatched_at is not null', [
        eventId,
      ]),
    ).toBe(1);
    expect(to(p)).toHaveLength(1);
    expect(
      await countRows('select count(*) as n from webhook_deliveries where event_id = $1', [eventId]),
    ).toBe(1);
  });

  it('rotating the secret signs the next deliveries with the new one only', async () => {
    const p = await newPartner();
    const r = await ctx.req({
      method: 'POST',
      url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/webhook-secret/rotate`,
      token: p.owner.token,
    });
    expect(r.statusCode, r.body).toBe(200);
    const { secret } = r.json<{ secret: string }>();
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(p.secret);
    await grant(p, await ctx.newUser());
    await ctx.drain();
    const [h] = to(p);
    const header = h!.headers['fanfare-signature'] as string;
    expect(verifyWebhookSignature({ body: h!.body, header, secret }).ok).toBe(true);
    expect(verifyWebhookSignature({ body: h!.body, header, secret: p.secret! }).ok).toBe(false);
    const audit = await countRows(
      `select count(*) as n from audit_logs where action = 'platform.webhook_secret_rotated' and resource_id = $1`,
      [p.platformId],
    );
    expect(audit).toBe(1);
  });

  it('delivers only through the guarded request: a receiver on 127.0.0.1 is refused when private targets are not allowed', async () => {
    const p = await newPartner();
    await grant(p, await ctx.newUser());
    await ctx.services.outbox.dispatchPending();
    const [pending] = await deliveries(p);
    expect(pending).toMatchObject({ status: 'pending', attempts: 0 });
    // The app's own services, but a policy that refuses private targets.
    const config = testConfig();
    const strict = createWebhookService({
      db: ctx.services.db,
      repo: createWebhookRepository(ctx.services.db),
      payplay: createPayplayRepository(ctx.services.db),
      access: ctx.services.access,
      audit: ctx.services.audit,
      jobs: ctx.services.jobs,
      box: createWebhookSecretBox(config.authSecret),
      settings: { maxAttempts: 3, retryBaseSeconds: 0, timeoutMs: 2000, allowPrivate: false },
      log: createLogger('silent'),
    });
    const after = await strict.deliver(pending!.id);
    expect(after).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: null });
    expect(after!.lastError).toContain('is a loopback, private or reserved address');
    await ctx.drain();
    expect(to(p)).toEqual([]);
  });
});

describe('the webhook routes', () => {
  it('another organization cannot see or touch a platform’s deliveries (404); a manager reads but cannot rotate or redeliver (403)', async () => {
    const p = await newPartner();
    await grant(p, await ctx.newUser());
    await ctx.drain();
    const [d] = await deliveries(p);
    const other = await newPartner();
    const base = `/v1/orgs/${other.orgId}/platforms/${p.platformId}`;
    for (const [method, url] of [
      ['GET', `${base}/webhook-deliveries`],
      ['GET', `${base}/webhook-deliveries/${d!.id}`],
      ['POST', `${base}/webhook-deliveries/${d!.id}/redeliver`],
      ['POST', `${base}/webhook-secret/rotate`],
    ] as const) {
      expect((await ctx.req({ method, url, token: other.owner.token })).statusCode, url).toBe(404);
    }
    // Someone else's delivery id under one's own platform is not found either.
    expect(
      (
        await ctx.req({
          method: 'POST',
          url: `/v1/orgs/${other.orgId}/platforms/${other.platformId}/webhook-deliveries/${d!.id}/redeliver`,
          token: other.owner.token,
        })
      ).statusCode,
    ).toBe(404);
    // Someone outside the organization does not learn it exists.
    const stranger = await ctx.newUser();
    expect(
      (
        await ctx.req({
          method: 'GET',
          url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/webhook-deliveries`,
          token: stranger.token,
        })
      ).statusCode,
    ).toBe(404);

    const manager = await ctx.newUser();
    await ctx.addMember(p.owner, p.orgId, manager, 'manager');
    const own = `/v1/orgs/${p.orgId}/platforms/${p.platformId}`;
    const list = await ctx.req({ method: 'GET', url: `${own}/webhook-deliveries`, token: manager.token });
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().items).toHaveLength(1);
    expect(
      (await ctx.req({ method: 'POST', url: `${own}/webhook-secret/rotate`, token: manager.token }))
        .statusCode,
    ).toBe(403);
    expect(
      (
        await ctx.req({
          method: 'POST',
          url: `${own}/webhook-deliveries/${d!.id}/redeliver`,
          token: manager.token,
        })
      ).statusCode,
    ).toBe(403);
    expect((await ctx.req({ method: 'GET', url: `${own}/webhook-deliveries` })).statusCode).toBe(401);
  });

  it('pages deliveries by cursor, newest first', async () => {
    const p = await newPartner();
    for (let i = 0; i < 3; i++) await grant(p, await ctx.newUser());
    await ctx.drain();
    const url = `/v1/orgs/${p.orgId}/platforms/${p.platformId}/webhook-deliveries`;
    const first = (await ctx.req({ method: 'GET', url: `${url}?limit=2`, token: p.owner.token })).json<{
      items: Delivery[];
      nextCursor: string;
    }>();
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toBeTruthy();
    const second = (
      await ctx.req({ method: 'GET', url: `${url}?limit=2&cursor=${first.nextCursor}`, token: p.owner.token })
    ).json<{ items: Delivery[]; nextCursor: string | null }>();
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    const all = [...first.items, ...second.items].map((d) => d.id);
    expect(all).toEqual([...all].sort().reverse());
  });

  it('refuses bad input with a 4xx naming the problem, and changes nothing', async () => {
    const p = await newPartner();
    const noHook = await newPartner({ webhook: false });
    await grant(p, await ctx.newUser());
    await ctx.services.outbox.dispatchPending();
    const [pending] = await deliveries(p);
    const own = `/v1/orgs/${p.orgId}/platforms/${p.platformId}`;
    const problem = async (
      method: 'GET' | 'POST' | 'PATCH',
      url: string,
      status: number,
      payload?: Record<string, unknown>,
      token = p.owner.token,
    ) => {
      const r = await ctx.req({ method, url, token, ...(payload ? { payload } : {}) });
      expect(r.statusCode, `${method} ${url}: ${r.body}`).toBe(status);
      expect(r.headers['content-type']).toContain('application/problem+json');
      return r.json<{ code?: string; errors?: { path: string }[] }>();
    };
    await problem('GET', `${own}/webhook-deliveries?cursor=nope`, 400);
    await problem('GET', `${own}/webhook-deliveries?status=lost`, 400);
    await problem('GET', `${own}/webhook-deliveries?limit=1000`, 400);
    await problem('GET', `${own}/webhook-deliveries/not-a-uuid`, 400);
    await problem('POST', `${own}/webhook-deliveries/${newId()}/redeliver`, 404);
    expect((await problem('POST', `${own}/webhook-deliveries/${pending!.id}/redeliver`, 409)).code).toBe(
      'delivery_pending',
    );
    expect(
      (
        await problem(
          'POST',
          `/v1/orgs/${noHook.orgId}/platforms/${noHook.platformId}/webhook-secret/rotate`,
          409,
          undefined,
          noHook.owner.token,
        )
      ).code,
    ).toBe('no_webhook_url');
    const bad = await problem('PATCH', own, 400, { webhookUrl: 'ftp://files.example.com/hook' });
    expect(bad.errors?.map((e) => e.path)).toEqual(['body.webhookUrl']);
    const created = await ctx.req({
      method: 'POST',
      url: `/v1/orgs/${p.orgId}/platforms`,
      token: p.owner.token,
      payload: {
        name: 'X',
        type: 'video',
        currency: 'USD',
        pricePerMinute: 5,
        webhookUrl: 'javascript:alert(1)',
      },
    });
    expect(created.statusCode).toBe(400);
    // Nothing changed: the platform keeps its URL, the delivery is still pending with no attempt.
    expect((await ctx.req({ method: 'GET', url: own, token: p.owner.token })).json().webhookUrl).toBe(
      `${hookBase}${p.path}`,
    );
    expect((await deliveries(p))[0]).toMatchObject({ id: pending!.id, status: 'pending', attempts: 0 });
    expect(
      await countRows('select count(*) as n from platform_webhook_secrets where platform_id = $1', [
        noHook.platformId,
      ]),
    ).toBe(0);
  });
});
