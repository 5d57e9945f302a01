import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net, { BlockList, type LookupFunction } from 'node:net';

/**
 * The one way Fanfare calls a URL a user or partner typed in (LMS sites, partner webhooks).
 *
 * A server-side request to a user-supplied URL can be pointed at the machine itself or its
 * network (SSRF): the database, the cloud metadata service at 169.254.169.254, an admin port on
 * localhost. So, unless private targets are allowed (OUTBOUND_ALLOW_PRIVATE), the host is resolved
 * here, every address it resolves to is checked, and the connection goes to the address that was
 * checked (a custom `lookup` on the request), so a DNS answer that changes between the check and
 * the connection (rebinding) cannot slip through. Redirects are never followed, the whole call
 * (resolution included) has a timeout, and the response body is read up to a size cap.
 */

export type OutboundErrorCode = 'bad_url' | 'forbidden_address' | 'unresolvable' | 'unreachable' | 'timeout' | 'too_large';

export class OutboundError extends Error {
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
    /** The system error code behind `unreachable`/`unresolvable` (ECONNREFUSED, ENOTFOUND…). */
    readonly systemCode?: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface OutboundPolicy {
  /** Allows loopback, private and other non-public targets (development and tests). */
  allowPrivate: boolean;
  timeoutMs: number;
  /** Largest response body read, in bytes. */
  maxBodyBytes: number;
  /** Past maxBodyBytes, answer the body cut there instead of failing (callers that only need the status). */
  truncateBody?: boolean;
  /** Name resolution (tests replace it to make a host resolve to a given address). */
  resolve?: Resolver;
}

export interface OutboundRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

export interface OutboundResponse {
  status: number;
  headers: Headers;
  body: string;
}

const systemResolve: Resolver = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

// Everything that is not a public unicast address.
const blockedV4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 (unspecified)
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. the 169.254.169.254 metadata service
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. 255.255.255.255 broadcast
];
const blockedV6: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];
const blockList = new BlockList();
for (const [a, p] of blockedV4) blockList.addSubnet(a, p, 'ipv4');
for (const [a, p] of blockedV6) blockList.addSubnet(a, p, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (dotted IPv4 tails included), or null. */
function ipv6Groups(address: string): number[] | null {
  let a = address.toLowerCase();
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (tail) {
    const [b0, b1, b2, b3] = tail.slice(1).map(Number) as [number, number, number, number];
    a = `${a.slice(0, tail.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * The IPv4 address an IPv6 address carries, when it is one of the forms that reach an IPv4 host:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
 */
function embeddedIpv4(groups: number[]): string | null {
  const zeros = (n: number) => groups.slice(0, n).every((g) => g === 0);
  const mapped = zeros(5) && groups[5] === 0xffff;
  const compatible = zeros(6) && (groups[6] !== 0 || groups[7]! > 1);
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (!mapped && !compatible && !nat64) return null;
  const [hi, lo] = [groups[6]!, groups[7]!];
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** True when `address` (an IP literal) is not a public unicast address; a non-IP is refused too. */
export function isForbiddenAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const kind = net.isIP(bare.split('%')[0]!);
  if (kind === 4) return blockList.check(bare, 'ipv4');
  if (kind !== 6) return true;
  const groups = ipv6Groups(bare);
  if (!groups) return true;
  const v4 = embeddedIpv4(groups);
  if (v4) return blockList.check(v4, 'ipv4');
  return blockList.check(bare.split('%')[0]!, 'ipv6');
}

/** Resolves and checks the host of `url`; answers the address to connect to. */
async function checkedAddress(url: URL, policy: OutboundPolicy): Promise<ResolvedAddress> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const kind = net.isIP(host);
  let addresses: ResolvedAddress[];
  if (kind) {
    addresses = [{ address: host, family: kind === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (policy.resolve ?? systemResolve)(host);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new OutboundError('unresolvable', `Could not resolve ${host}${code ? ` (${code})` : ''}`, code ?? 'ENOTFOUND');
    }
    if (!addresses.length) throw new OutboundError('unresolvable', `Could not resolve ${host}`, 'ENOTFOUND');
  }
  if (!policy.allowPrivate) {
    // Every answer is checked, not only the one used: a host that also resolves to a private
    // address is refused rather than trusted to pick the public one.
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad) {
      const what = kind ? `${url.origin} is` : `${url.origin} resolves to ${bad.address}, which is`;
      throw new OutboundError('forbidden_address', `${what} a loopback, private or reserved address; Fanfare calls public addresses only (OUTBOUND_ALLOW_PRIVATE is off)`);
    }
  }
  return addresses[0]!;
}

/** A `lookup` that answers the checked address whatever it is asked: the socket connects there. */
function pinnedLookup(resolved: ResolvedAddress): LookupFunction {
  return (_hostname: string, opts: { all?: boolean }, cb: (err: null, address: string | { address: string; family: number }[], family?: number) => void) => {
    if (opts.all) cb(null, [{ address: resolved.address, family: resolved.family }]);
    else cb(null, resolved.address, resolved.family);
  };
}

/**
 * One HTTP request to a user-supplied URL under `policy`. Answers any HTTP status (3xx included,
 * never followed); throws OutboundError when the call is refused or fails.
 */
export async function outboundRequest(input: string | URL, init: OutboundRequest, policy: OutboundPolicy): Promise<OutboundResponse> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new OutboundError('bad_url', 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundError('bad_url', `${url.protocol} URLs are not allowed; use http or https`);

  const deadline = AbortSignal.timeout(policy.timeoutMs);
  const timedOut = () => new OutboundError('timeout', `${url.origin} did not answer within ${Math.round(policy.timeoutMs / 100) / 10} s`);
  const resolved = await Promise.race([
    checkedAddress(url, policy),
    new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(timedOut()), { once: true })),
  ]);
  if (deadline.aborted) throw timedOut();

  const host = url.hostname.replace(/^\[|\]$/g, '');
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: OutboundError) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err);
    };
    const req = mod.request(
      {
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: init.method ?? 'GET',
        headers: { ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}), ...init.headers },
        // A fresh connection per call, to the checked address: the resolution above is the only one.
        agent: false,
        lookup: pinnedLookup(resolved),
        // TLS still verifies the certificate for the host name the URL names.
        ...(url.protocol === 'https:' && !net.isIP(host) ? { servername: host } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const x of v) headers.append(k, x);
          else if (v !== undefined) headers.set(k, v);
        }
        const tooLarge = () => new OutboundError('too_large', `${url.origin} sent more than ${policy.maxBodyBytes} bytes`);
        const done = () => {
          if (settled) return;
          settled = true;
          resolve({ status, headers, body: Buffer.concat(chunks).subarray(0, policy.maxBodyBytes).toString('utf8') });
        };
        const chunks: Buffer[] = [];
        let size = 0;
        if (!policy.truncateBody && Number(res.headers['content-length'] ?? 0) > policy.maxBodyBytes) return fail(tooLarge());
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          chunks.push(chunk);
          if (size <= policy.maxBodyBytes) return;
          if (!policy.truncateBody) return fail(tooLarge());
          done();
          req.destroy();
        });
        res.on('end', done);
        res.on('error', () => fail(new OutboundError('unreachable', `${url.origin} stopped answering`)));
      },
    );
    deadline.addEventListener('abort', () => fail(timedOut()), { once: true });
    req.on('error', (err: Error & { code?: string }) => {
      fail(new OutboundError('unreachable', `Could not reach ${url.origin}${err.code ? ` (${err.code})` : ''}`, err.code));
    });
    req.end(init.body);
  });
}
