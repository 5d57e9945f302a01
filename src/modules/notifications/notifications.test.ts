import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestContext,
  type LightMyRequestResponse,
  type TestContext,
  type TestUser,
} from '../../../test/helpers.ts';
import type { NotifyInput } from './notifications.service.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const NOBODY = '01900000-0000-7000-8000-000000000000';
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface NotificationDto {
  id: string;
  userId: string;
  type: string;
  title: string;
  message: string;
  actionUrl: string | null;
  actionLabel: string | null;
  actorId: string | null;
  relatedId: string | null;
  organizationId: string | null;
  data: Record<string, unknown>;
  isRead: boolean;
  readAt: string | null;
  createdAt: string;
}
interface SettingsDto {
  lowBalanceThreshold: number;
  notificationEmail: string | null;
  typePreferences: Record<string, { inApp: boolean; email: boolean }>;
  updatedAt: string | null;
}
interface PageDto {
  items: NotificationDto[];
  nextCursor: string | null;
}

const errorPaths = (res: LightMyRequestResponse): string[] =>
  (res.json<{ errors?: { path: string }[] }>().errors ?? []).map((e) => e.path);

const send = (method: Method, url: string, token: string | undefined, payload?: InjectOptions['payload']) =>
  ctx.req({ method, url, ...(token ? { token } : {}), ...(payload !== undefined ? { payload } : {}) });

const notify = (user: TestUser, input: Partial<NotifyInput> = {}) =>
  ctx.services.notifications.notify({
    userId: user.id,
    type: 'payment',
    title: 'Payment received',
    message: 'You were paid 12.00 EUR',
    ...input,
  });

async function patchSettings(user: TestUser, body: Record<string, unknown>): Promise<SettingsDto> {
  const res = await send('PATCH', '/v1/notifications/settings', user.token, body);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<SettingsDto>();
}

async function rowsOf(userId: string) {
  const { rows } = await ctx.database.raw.query<{ id: string; type: string; is_read: boolean }>(
    'select id, type, is_read from notifications where user_id = $1 order by id',
    [userId],
  );
  return rows;
}

/** Mail in the local mailbox to `email`, newest first, without the sign-up confirmation every test user gets. */
async function mailsTo(email: string) {
  return (await ctx.mailTo(email)).filter((m) => m.subject !== 'Confirm your e-mail address');
}

async function emailLogsTo(address: string) {
  const { rows } = await ctx.database.raw.query<{
    email_type: string;
    subject: string;
    user_id: string | null;
  }>(
    "select email_type, subject, user_id from email_logs where recipient_email = $1 and email_type <> 'email_verification' order by id",
    [address.toLowerCase()],
  );
  return rows;
}

describe('input validation and authentication on every route', () => {
  let user: TestUser;
  let admin: TestUser;
  let mine: string;
  beforeAll(async () => {
    user = await ctx.newUser();
    admin = await ctx.newUser({ role: 'admin' });
    mine = (await notify(user)).notification!.id;
  });

  const badInput: [string, Method, string, unknown, string[]][] = [
    ['GET notifications (bad limit)', 'GET', '/v1/notifications?limit=abc', undefined, ['querystring.limit']],
    [
      'GET notifications (bad unread)',
      'GET',
      '/v1/notifications?unread=yes',
      undefined,
      ['querystring.unread'],
    ],
    [
      'GET notifications (unknown type)',
      'GET',
      '/v1/notifications?type=nope',
      undefined,
      ['querystring.type'],
    ],
    [
      'GET notifications (bad cursor)',
      'GET',
      '/v1/notifications?cursor=garbage',
      undefined,
      ['querystring.cursor'],
    ],
    ['POST :id/read (bad id)', 'POST', '/v1/notifications/nope/read', undefined, ['params.id']],
    ['DELETE :id (bad id)', 'DELETE', '/v1/notifications/nope', undefined, ['params.id']],
    [
      'PATCH settings (negative threshold)',
      'PATCH',
      '/v1/notifications/settings',
      { lowBalanceThreshold: -1 },
      ['body.lowBalanceThreshold'],
    ],
    [
      'PATCH settings (fractional threshold)',
      'PATCH',
      '/v1/notifications/settings',
      { lowBalanceThreshold: 10.5 },
      ['body.lowBalanceThreshold'],
    ],
    [
      'PATCH settings (threshold as text)',
      'PATCH',
      '/v1/notifications/settings',
      { lowBalanceThreshold: '1000' },
      ['body.lowBalanceThreshold'],
    ],
    [
      'PATCH settings (bad e-mail)',
      'PATCH',
      '/v1/notifications/settings',
      { notificationEmail: 'not-an-email' },
      ['body.notificationEmail'],
    ],
    [
      'PATCH settings (unknown type)',
      'PATCH',
      '/v1/notifications/settings',
      { typePreferences: { bogus: { email: false } } },
      ['body.typePreferences'],
    ],
    [
      'PATCH settings (bad channel value)',
      'PATCH',
      '/v1/notifications/settings',
      { typePreferences: { like: { email: 'no' } } },
      ['body.typePreferences.like.email'],
    ],
    [
      'PATCH settings (unknown channel)',
      'PATCH',
      '/v1/notifications/settings',
      { typePreferences: { like: { sms: true } } },
      ['body.typePreferences.like'],
    ],
    ['PATCH settings (unknown field)', 'PATCH', '/v1/notifications/settings', { userId: NOBODY }, ['body']],
    [
      'POST admin (type not for operators)',
      'POST',
      '/v1/admin/notifications',
      { userId: 'USER', type: 'payment', title: 't', message: 'm' },
      ['body.type'],
    ],
    [
      'POST admin (bad user id)',
      'POST',
      '/v1/admin/notifications',
      { userId: 'nope', type: 'system', title: 't', message: 'm' },
      ['body.userId'],
    ],
    [
      'POST admin (empty title)',
      'POST',
      '/v1/admin/notifications',
      { userId: 'USER', type: 'system', title: ' ', message: 'm' },
      ['body.title'],
    ],
    [
      'POST admin (script URL)',
      'POST',
      '/v1/admin/notifications',
      { userId: 'USER', type: 'system', title: 't', message: 'm', actionUrl: 'javascript:alert(1)' },
      ['body.actionUrl'],
    ],
    [
      'POST admin (no message)',
      'POST',
      '/v1/admin/notifications',
      { userId: 'USER', type: 'system', title: 't' },
      ['body.message'],
    ],
  ];

  it.each(badInput)('%s answers 400 naming the field', async (_name, method, url, payload, paths) => {
    const body = payload
      ? (JSON.parse(JSON.stringify(payload).replace('USER', user.id)) as InjectOptions['payload'])
      : undefined;
    const res = await send(method, url, url.startsWith('/v1/admin') ? admin.token : user.token, body);
    expect(res.statusCode, res.body).toBe(400);
    expect(errorPaths(res)).toEqual(paths);
  });

  it('names the unknown type in the message', async () => {
    const res = await send('PATCH', '/v1/notifications/settings', user.token, {
      typePreferences: { bogus: { email: false } },
    });
    expect(res.json<{ detail: string }>().detail).toContain('bogus');
  });

  it('refuses to turn off system or security notifications, naming each channel', async () => {
    const res = await send('PATCH', '/v1/notifications/settings', user.token, {
      typePreferences: {
        system: { email: false },
        security: { inApp: false, email: true },
        like: { email: true },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(errorPaths(res)).toEqual([
      'body.typePreferences.system.email',
      'body.typePreferences.security.inApp',
    ]);
    // Nothing of the refused request was kept, not even the valid part.
    const settings = await send('GET', '/v1/notifications/settings', user.token);
    expect(settings.json<SettingsDto>().typePreferences.like).toEqual({ inApp: true, email: false });
  });

  const routes: [string, Method, string, unknown][] = [
    ['GET /v1/notifications', 'GET', '/v1/notifications', undefined],
    ['GET /v1/notifications/unread-count', 'GET', '/v1/notifications/unread-count', undefined],
    ['POST /v1/notifications/:id/read', 'POST', '/v1/notifications/ID/read', undefined],
    ['POST /v1/notifications/read-all', 'POST', '/v1/notifications/read-all', undefined],
    ['DELETE /v1/notifications/:id', 'DELETE', '/v1/notifications/ID', undefined],
    ['GET /v1/notifications/settings', 'GET', '/v1/notifications/settings', undefined],
    ['PATCH /v1/notifications/settings', 'PATCH', '/v1/notifications/settings', { lowBalanceThreshold: 5 }],
    [
      'POST /v1/admin/notifications',
      'POST',
      '/v1/admin/notifications',
      { userId: NOBODY, type: 'system', title: 't', message: 'm' },
    ],
  ];

  it.each(routes)('%s answers 401 without a token', async (_name, method, url, payload) => {
    const res = await send(method, url.replace('ID', mine), undefined, payload as InjectOptions['payload']);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ status: 401, title: 'Authentication required' });
  });

  it('left the notification unread and in place', async () => {
    expect(await rowsOf(user.id)).toEqual([{ id: mine, type: 'payment', is_read: false }]);
  });

  it('answers 403 to a user who is no operator on POST /v1/admin/notifications', async () => {
    const res = await send('POST', '/v1/admin/notifications', user.token, {
      userId: user.id,
      type: 'system',
      title: 'Hi',
      message: 'm',
    });
    expect(res.statusCode).toBe(403);
    expect(await rowsOf(user.id)).toHaveLength(1);
  });

  it('answers 404 to an operator naming an unknown user', async () => {
    const res = await send('POST', '/v1/admin/notifications', admin.token, {
      userId: NOBODY,
      type: 'system',
      title: 'Hi',
      message: 'm',
    });
    expect(res.statusCode).toBe(404);
  });
});

describe('another user', () => {
  let owner: TestUser;
  let other: TestUser;
  let theirs: NotificationDto;
  beforeAll(async () => {
    owner = await ctx.newUser();
    other = await ctx.newUser();
    await notify(owner, { type: 'order', title: 'New order' });
    const res = await send('GET', '/v1/notifications', owner.token);
    theirs = res.json<PageDto>().items[0]!;
  });

  it('cannot see the notification in lists or counts', async () => {
    const list = await send('GET', '/v1/notifications', other.token);
    expect(list.json<PageDto>()).toEqual({ items: [], nextCursor: null });
    expect((await send('GET', '/v1/notifications/unread-count', other.token)).json()).toEqual({ count: 0 });
  });

  it('cannot mark it read: 404', async () => {
    const res = await send('POST', `/v1/notifications/${theirs.id}/read`, other.token);
    expect(res.statusCode).toBe(404);
  });

  it('does not mark it read with read-all', async () => {
    const res = await send('POST', '/v1/notifications/read-all', other.token);
    expect(res.json()).toEqual({ updated: 0 });
  });

  it('cannot delete it: 404', async () => {
    const res = await send('DELETE', `/v1/notifications/${theirs.id}`, other.token);
    expect(res.statusCode).toBe(404);
  });

  it('left it unread and in place for its owner', async () => {
    expect(await rowsOf(owner.id)).toEqual([{ id: theirs.id, type: 'order', is_read: false }]);
    expect((await send('GET', '/v1/notifications/unread-count', owner.token)).json()).toEqual({ count: 1 });
  });

  it('answers 404 for an id that names nothing, like for another user’s', async () => {
    expect((await send('POST', `/v1/notifications/${NOBODY}/read`, owner.token)).statusCode).toBe(404);
    expect((await send('DELETE', `/v1/notifications/${NOBODY}`, owner.token)).statusCode).toBe(404);
  });
});

describe('reading, listing and deleting', () => {
  let user: TestUser;
  const ids: string[] = [];
  beforeAll(async () => {
    user = await ctx.newUser();
    for (const [i, type] of (['like', 'comment', 'like', 'follow', 'like'] as const).entries()) {
      ids.push((await notify(user, { type, title: `n${i}`, message: `m${i}` })).notification!.id);
    }
  });

  it('pages newest first with a cursor', async () => {
    const first = await send('GET', '/v1/notifications?limit=2', user.token);
    const page1 = first.json<PageDto>();
    expect(page1.items.map((n) => n.title)).toEqual(['n4', 'n3']);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (
      await send('GET', `/v1/notifications?limit=2&cursor=${page1.nextCursor!}`, user.token)
    ).json<PageDto>();
    expect(page2.items.map((n) => n.title)).toEqual(['n2', 'n1']);
    const page3 = (
      await send('GET', `/v1/notifications?limit=2&cursor=${page2.nextCursor!}`, user.token)
    ).json<PageDto>();
    expect(page3).toEqual({
      items: [expect.objectContaining({ id: ids[0], title: 'n0' })],
      nextCursor: null,
    });
  });

  it('filters by type, and pages within the filter', async () => {
    const res = await send('GET', '/v1/notifications?type=like&limit=2', user.token);
    const page = res.json<PageDto>();
    expect(page.items.map((n) => n.title)).toEqual(['n4', 'n2']);
    const next = (
      await send('GET', `/v1/notifications?type=like&limit=2&cursor=${page.nextCursor!}`, user.token)
    ).json<PageDto>();
    expect(next.items.map((n) => n.title)).toEqual(['n0']);
  });

  it('marks one read, keeps the first read time, and filters read from unread', async () => {
    const res = await send('POST', `/v1/notifications/${ids[1]!}/read`, user.token);
    expect(res.statusCode).toBe(200);
    const read = res.json<NotificationDto>();
    expect(read).toMatchObject({ id: ids[1], isRead: true, readAt: expect.any(String) });
    const again = (
      await send('POST', `/v1/notifications/${ids[1]!}/read`, user.token)
    ).json<NotificationDto>();
    expect(again.readAt).toBe(read.readAt);

    expect((await send('GET', '/v1/notifications/unread-count', user.token)).json()).toEqual({ count: 4 });
    const unread = (await send('GET', '/v1/notifications?unread=true', user.token)).json<PageDto>();
    expect(unread.items.map((n) => n.title)).toEqual(['n4', 'n3', 'n2', 'n0']);
    const readOnly = (await send('GET', '/v1/notifications?unread=false', user.token)).json<PageDto>();
    expect(readOnly.items.map((n) => n.id)).toEqual([ids[1]]);
  });

  it('marks all read at once', async () => {
    const res = await send('POST', '/v1/notifications/read-all', user.token);
    expect(res.json()).toEqual({ updated: 4 });
    expect((await send('GET', '/v1/notifications/unread-count', user.token)).json()).toEqual({ count: 0 });
    expect((await send('GET', '/v1/notifications?unread=true', user.token)).json<PageDto>().items).toEqual(
      [],
    );
    expect((await rowsOf(user.id)).every((r) => r.is_read)).toBe(true);
  });

  it('deletes one, which is then gone', async () => {
    const res = await send('DELETE', `/v1/notifications/${ids[2]!}`, user.token);
    expect(res.statusCode).toBe(204);
    expect((await rowsOf(user.id)).map((r) => r.id)).toEqual([ids[0], ids[1], ids[3], ids[4]]);
    expect((await send('DELETE', `/v1/notifications/${ids[2]!}`, user.token)).statusCode).toBe(404);
  });

  it('keeps is_read and read_at together in the database', async () => {
    await expect(
      ctx.database.raw.query(
        "insert into notifications (id, user_id, type, title, message, is_read) values ($1, $2, 'like', 't', 'm', true)",
        ['01900000-0000-7000-8000-0000000000aa', user.id],
      ),
    ).rejects.toThrow(/notifications_read_consistent/);
    await expect(
      ctx.database.raw.query(
        "insert into notifications (id, user_id, type, title, message) values ($1, $2, 'nope', 't', 'm')",
        ['01900000-0000-7000-8000-0000000000ab', user.id],
      ),
    ).rejects.toThrow(/notifications_type_check/);
  });
});

describe('notify', () => {
  it('writes the row with every field and mails the account e-mail after commit', async () => {
    const user = await ctx.newUser();
    const actor = await ctx.newUser();
    const owner = await ctx.newUser();
    const org = await ctx.newOrg(owner);
    const related = '01900000-0000-7000-8000-0000000000cc';
    const result = await notify(user, {
      type: 'purchase',
      title: 'Thank you for your purchase',
      message: 'Your receipt for Album',
      actionUrl: '/library/album',
      actionLabel: 'Listen now',
      actorId: actor.id,
      relatedId: related,
      organizationId: org.id,
      data: { amount: 1200, currency: 'EUR' },
    });
    expect(result.email).toEqual({ emailLogId: expect.any(String), to: user.email });
    expect(await mailsTo(user.email)).toEqual([]);

    const [item] = (await send('GET', '/v1/notifications', user.token)).json<PageDto>().items;
    expect(item).toEqual({
      id: result.notification!.id,
      userId: user.id,
      type: 'purchase',
      title: 'Thank you for your purchase',
      message: 'Your receipt for Album',
      actionUrl: '/library/album',
      actionLabel: 'Listen now',
      actorId: actor.id,
      relatedId: related,
      organizationId: org.id,
      data: { amount: 1200, currency: 'EUR' },
      isRead: false,
      readAt: null,
      createdAt: expect.any(String),
    });

    await ctx.drain();
    const mails = await mailsTo(user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Thank you for your purchase');
    expect(mails[0]!.text).toContain('Your receipt for Album');
    expect(mails[0]!.text).toContain('Listen now: http://fanfare.test/library/album');
    expect(await emailLogsTo(user.email)).toEqual([
      { email_type: 'notification_purchase', subject: 'Thank you for your purchase', user_id: user.id },
    ]);
  });

  it('uses the caller’s mail text and type when given, and sends none with email: false', async () => {
    const user = await ctx.newUser();
    await notify(user, {
      type: 'refund',
      email: { subject: 'Your refund', text: 'Refunded 5.00', type: 'refund_receipt' },
    });
    await notify(user, { type: 'refund', title: 'Quiet refund', email: false });
    await ctx.drain();
    expect(await mailsTo(user.email)).toEqual([{ subject: 'Your refund', text: 'Refunded 5.00' }]);
    expect((await emailLogsTo(user.email)).map((l) => l.email_type)).toEqual(['refund_receipt']);
    expect(await rowsOf(user.id)).toHaveLength(2);
  });

  it('leaves nothing when the caller’s transaction rolls back: no row, no mail', async () => {
    const user = await ctx.newUser();
    await expect(
      ctx.services.db.transaction(async (tx) => {
        const done = await ctx.services.notifications.notify(
          { userId: user.id, type: 'settlement', title: 'Settled', message: 'm' },
          tx,
        );
        expect(done.notification).not.toBeNull();
        expect(done.email).not.toBeNull();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await ctx.drain();
    expect(await rowsOf(user.id)).toEqual([]);
    expect(await mailsTo(user.email)).toEqual([]);
    expect(await emailLogsTo(user.email)).toEqual([]);
  });

  it('commits with the caller’s transaction', async () => {
    const user = await ctx.newUser();
    await ctx.services.db.transaction(async (tx) => {
      await ctx.services.notifications.notify(
        { userId: user.id, type: 'settlement', title: 'Settled', message: 'm' },
        tx,
      );
    });
    await ctx.drain();
    expect(await rowsOf(user.id)).toHaveLength(1);
    expect(await mailsTo(user.email)).toHaveLength(1);
  });

  it('refuses an unknown user and skips a deleted one', async () => {
    await expect(
      ctx.services.notifications.notify({ userId: NOBODY, type: 'system', title: 't', message: 'm' }),
    ).rejects.toMatchObject({ kind: 'not_found' });
    const user = await ctx.newUser();
    await ctx.database.raw.query("update users set status = 'deleted', deleted_at = now() where id = $1", [
      user.id,
    ]);
    expect(await notify(user, { type: 'system' })).toEqual({ notification: null, email: null });
    await ctx.drain();
    expect(await rowsOf(user.id)).toEqual([]);
    expect(await mailsTo(user.email)).toEqual([]);
  });
});

describe('preferences', () => {
  it('has defaults without a settings row', async () => {
    const user = await ctx.newUser();
    const res = await send('GET', '/v1/notifications/settings', user.token);
    expect(res.statusCode).toBe(200);
    const settings = res.json<SettingsDto>();
    expect(settings).toMatchObject({ lowBalanceThreshold: 1000, notificationEmail: null, updatedAt: null });
    expect(settings.typePreferences).toMatchObject({
      low_balance: { inApp: true, email: true },
      promotional: { inApp: true, email: false },
      system: { inApp: true, email: true },
      security: { inApp: true, email: true },
      like: { inApp: true, email: false },
    });
    expect(await ctx.services.notifications.lowBalanceThreshold(user.id)).toBe(1000);
  });

  it('keeps what is changed, leaves the rest, and feeds the money module’s threshold', async () => {
    const user = await ctx.newUser();
    const before = await patchSettings(user, { typePreferences: { like: { email: true } } });
    const after = await patchSettings(user, {
      lowBalanceThreshold: 250,
      typePreferences: { payment: { inApp: false } },
    });
    expect(after.lowBalanceThreshold).toBe(250);
    // updated_at is kept by the trigger.
    expect(Date.parse(after.updatedAt!)).toBeGreaterThan(Date.parse(before.updatedAt!));
    expect(after.typePreferences.like).toEqual({ inApp: true, email: true });
    expect(after.typePreferences.payment).toEqual({ inApp: false, email: true });
    expect(after.typePreferences.order).toEqual({ inApp: true, email: true });
    expect(await ctx.services.notifications.lowBalanceThreshold(user.id)).toBe(250);
    expect(await ctx.services.notifications.getSettings(user.id)).toMatchObject({
      lowBalanceThreshold: 250,
      notificationEmail: null,
    });
    // Back to the default: nothing of it is stored any more.
    await patchSettings(user, { typePreferences: { like: { email: false } } });
    const { rows } = await ctx.database.raw.query<{ type_preferences: unknown }>(
      'select type_preferences from notification_settings where user_id = $1',
      [user.id],
    );
    expect(rows).toEqual([{ type_preferences: { payment: { inApp: false, email: true } } }]);
  });

  it('sends no mail for a type whose e-mail is off, but still shows it in the app', async () => {
    const user = await ctx.newUser();
    await patchSettings(user, { typePreferences: { payment: { email: false } } });
    const result = await notify(user, { type: 'payment' });
    expect(result.email).toBeNull();
    await ctx.drain();
    expect(await mailsTo(user.email)).toEqual([]);
    expect(await emailLogsTo(user.email)).toEqual([]);
    expect(await rowsOf(user.id)).toHaveLength(1);
    // Another type still mails.
    await notify(user, { type: 'payout', title: 'Payout sent' });
    await ctx.drain();
    expect((await mailsTo(user.email)).map((m) => m.subject)).toEqual(['Payout sent']);
  });

  it('writes no row for a type whose in-app is off, but still mails', async () => {
    const user = await ctx.newUser();
    await patchSettings(user, { typePreferences: { payment: { inApp: false } } });
    const result = await notify(user, { type: 'payment', title: 'Mail only' });
    expect(result.notification).toBeNull();
    await ctx.drain();
    expect(await rowsOf(user.id)).toEqual([]);
    expect((await mailsTo(user.email)).map((m) => m.subject)).toEqual(['Mail only']);
  });

  it('does nothing at all when both channels are off', async () => {
    const user = await ctx.newUser();
    await patchSettings(user, { typePreferences: { review: { inApp: false, email: false } } });
    expect(await notify(user, { type: 'review' })).toEqual({ notification: null, email: null });
    await ctx.drain();
    expect(await rowsOf(user.id)).toEqual([]);
    expect(await mailsTo(user.email)).toEqual([]);
  });

  it('sends mail to notification_email instead of the account e-mail, until it is cleared', async () => {
    const user = await ctx.newUser();
    const elsewhere = `Alerts-${user.id.slice(-6)}@Example.com`;
    const settings = await patchSettings(user, { notificationEmail: elsewhere });
    expect(settings.notificationEmail).toBe(elsewhere.toLowerCase());
    const result = await notify(user, { type: 'low_balance', title: 'Your balance is low' });
    expect(result.email?.to).toBe(elsewhere.toLowerCase());
    await ctx.drain();
    expect((await mailsTo(elsewhere)).map((m) => m.subject)).toEqual(['Your balance is low']);
    expect(await mailsTo(user.email)).toEqual([]);

    await patchSettings(user, { notificationEmail: null });
    await notify(user, { type: 'low_balance', title: 'Still low' });
    await ctx.drain();
    expect((await mailsTo(user.email)).map((m) => m.subject)).toEqual(['Still low']);
    expect(await mailsTo(elsewhere)).toHaveLength(1);
  });

  it('changing one user’s settings leaves another’s alone', async () => {
    const a = await ctx.newUser();
    const b = await ctx.newUser();
    await patchSettings(a, { lowBalanceThreshold: 0, typePreferences: { order: { email: false } } });
    const bs = (await send('GET', '/v1/notifications/settings', b.token)).json<SettingsDto>();
    expect(bs.lowBalanceThreshold).toBe(1000);
    expect(bs.typePreferences.order).toEqual({ inApp: true, email: true });
  });
});

describe('operator notifications', () => {
  let admin: TestUser;
  beforeAll(async () => {
    admin = await ctx.newUser({ role: 'admin' });
  });

  it('sends a system notification in the app and by mail, and audits it', async () => {
    const user = await ctx.newUser();
    const res = await send('POST', '/v1/admin/notifications', admin.token, {
      userId: user.id,
      type: 'system',
      title: 'Scheduled maintenance',
      message: 'Fanfare is down for 10 minutes on Sunday.',
      actionUrl: 'https://status.fanfare.test',
      actionLabel: 'Status page',
    });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json<{ notification: NotificationDto; email: { to: string } }>();
    expect(body.notification).toMatchObject({
      userId: user.id,
      type: 'system',
      actorId: admin.id,
      actionUrl: 'https://status.fanfare.test',
    });
    expect(body.email.to).toBe(user.email);
    await ctx.drain();
    const [mail] = await mailsTo(user.email);
    expect(mail?.subject).toBe('Scheduled maintenance');
    expect(mail?.text).toContain('Status page: https://status.fanfare.test');
    const { rows } = await ctx.database.raw.query<{
      user_id: string;
      resource_id: string;
      metadata: Record<string, unknown>;
    }>(
      "select user_id, resource_id, metadata from audit_logs where action = 'notification.sent' and resource_id = $1",
      [body.notification.id],
    );
    expect(rows).toEqual([
      {
        user_id: admin.id,
        resource_id: body.notification.id,
        metadata: expect.objectContaining({ recipientId: user.id, type: 'system', emailed: true }),
      },
    ]);
  });

  it('sends promotional notifications in the app only, unless the user opted into mail', async () => {
    const user = await ctx.newUser();
    const payload = { userId: user.id, type: 'promotional', title: 'Spring sale', message: '20% off' };
    const first = await send('POST', '/v1/admin/notifications', admin.token, payload);
    expect(first.json()).toMatchObject({ notification: { type: 'promotional' }, email: null });
    await ctx.drain();
    expect(await mailsTo(user.email)).toEqual([]);

    await patchSettings(user, { typePreferences: { promotional: { email: true } } });
    const second = await send('POST', '/v1/admin/notifications', admin.token, {
      ...payload,
      email: { subject: 'Spring sale!', text: 'Mail body' },
    });
    expect(second.statusCode).toBe(201);
    await ctx.drain();
    expect(await mailsTo(user.email)).toEqual([{ subject: 'Spring sale!', text: 'Mail body' }]);
    expect(await rowsOf(user.id)).toHaveLength(2);
  });
});
