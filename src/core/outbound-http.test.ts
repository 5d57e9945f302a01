import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isForbiddenAddress, OutboundError, outboundRequest, type OutboundPolicy } from './outbound-http.ts';

let server: Server;
let port: number;
const seen: { url: string; host: string | undefined; method: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', host: req.headers.host, method: req.method ?? '', body });
      if (req.url === '/moved') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        return res.end();
      }
      if (req.url === '/slow') return; // never answers
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('x'.repeat(10_000));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, host: req.headers.host }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
});

const strict: OutboundPolicy = { allowPrivate: false, timeoutMs: 2000, maxBodyBytes: 1024 * 1024 };
const open: OutboundPolicy = { ...strict, allowPrivate: true };

async function refusal(url: string, policy: OutboundPolicy = strict): Promise<OutboundError> {
  try {
    await outboundRequest(url, {}, policy);
  } catch (err) {
    expect(err).toBeInstanceOf(OutboundError);
    return err as OutboundError;
  }
  throw new Error(`${url} was not refused`);
}

describe('isForbiddenAddress', () => {
  it('refuses loopback, private, link-local, CGNAT, unique-local, mapped, unspecified and multicast addresses', () => {
    const forbidden = [
      '127.0.0.1', '127.8.9.10', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.1.1', '169.254.169.254', '169.254.0.1',
      '100.64.0.1', '100.127.255.254', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255', '198.18.0.1',
      '::', '::1', '[::1]', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::ffff:10.0.0.1', '::ffff:192.168.0.1', '64:ff9b::a00:1', '::10.0.0.1',
      'not-an-ip',
    ];
    for (const a of forbidden) expect(isForbiddenAddress(a), a).toBe(true);
  });

  it('allows public unicast addresses, including mapped public IPv4', () => {
    const allowed = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '100.128.0.1', '100.63.255.255', '172.32.0.1', '172.15.255.255', '192.169.0.1', '169.255.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '::ffff:808:808'];
    for (const a of allowed) expect(isForbiddenAddress(a), a).toBe(false);
  });
});

describe('outboundRequest with private targets not allowed', () => {
  it('refuses 127.0.0.1, 10.x, the metadata address, [::1], mapped and numeric forms, and localhost, sending nothing', async () => {
    for (const url of [
      `http://127.0.0.1:${port}/`,
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`, // 127.0.0.1 as one number
      `http://0x7f.1:${port}/`,
      `http://localhost:${port}/`,
      'http://0.0.0.0/',
    ]) {
      const err = await refusal(url);
      expect(err.code, url).toBe('forbidden_address');
      expect(err.message).toContain('OUTBOUND_ALLOW_PRIVATE');
    }
    expect(seen).toEqual([]);
  });

  it('refuses a host name that resolves to a private address, even when it also resolves to a public one', async () => {
    const resolve = async (host: string) => (host === 'intranet.example' ? [{ address: '93.184.216.34', family: 4 as const }, { address: '10.1.2.3', family: 4 as const }] : [{ address: '192.168.0.7', family: 4 as const }]);
    const err = await refusal(`http://intranet.example:${port}/`, { ...strict, resolve });
    expect(err.code).toBe('forbidden_address');
    expect(err.message).toContain('resolves to 10.1.2.3');
    expect((await refusal('https://wiki.example/', { ...strict, resolve })).message).toContain('192.168.0.7');
    expect(seen).toEqual([]);
  });

  it('refuses schemes other than http and https', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/']) expect((await refusal(url)).code, url).toBe('bad_url');
    expect((await refusal('not a url')).code).toBe('bad_url');
  });
});

describe('outboundRequest', () => {
  it('connects to the address it checked: no second resolution a DNS answer could change', async () => {
    let lookups = 0;
    // pinned.invalid does not exist in DNS: the request reaches the server only through the checked answer.
    const resolve = async () => {
      lookups++;
      return [{ address: '127.0.0.1', family: 4 as const }];
    };
    const res = await outboundRequest(`http://pinned.invalid:${port}/hello`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }, { ...open, resolve });
    expect(res.status).toBe(200);
    expect(lookups).toBe(1);
    expect(seen).toEqual([{ url: '/hello', host: `pinned.invalid:${port}`, method: 'POST', body: '{"a":1}' }]);
    expect(JSON.parse(res.body)).toEqual({ ok: true, host: `pinned.invalid:${port}` });
  });

  it('does not follow redirects', async () => {
    const res = await outboundRequest(`http://127.0.0.1:${port}/moved`, {}, open);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://169.254.169.254/latest/meta-data/');
    expect(seen.map((s) => s.url)).toEqual(['/moved']);
  });

  it('times out, caps the body (or cuts it when asked), and reports an unreachable port', async () => {
    const slow = await refusal(`http://127.0.0.1:${port}/slow`, { ...open, timeoutMs: 200 });
    expect(slow.code).toBe('timeout');
    expect(slow.message).toContain('within 0.2 s');
    expect((await refusal(`http://127.0.0.1:${port}/big`, { ...open, maxBodyBytes: 1000 })).code).toBe('too_large');
    const cut = await outboundRequest(`http://127.0.0.1:${port}/big`, {}, { ...open, maxBodyBytes: 1000, truncateBody: true });
    expect(cut.status).toBe(200);
    expect(cut.body.length).toBe(1000);
    const down = await refusal('http://127.0.0.1:1/', open);
    expect(down.code).toBe('unreachable');
    expect(down.systemCode).toBe('ECONNREFUSED');
  });
});
