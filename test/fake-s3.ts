import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small S3 on loopback that speaks what Fanfare's S3 store uses (path-style PUT, GET with
 * Range, HEAD, DELETE, ListObjectsV2) and checks every request's SigV4 signature, in the
 * Authorization header or in a presigned URL's query, with the presigned expiry.
 */
export interface FakeS3 {
  url: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  objects: Map<string, { body: Buffer; contentType: string }>;
  /** Every request, in order: method, key (or '' for the bucket), how it was signed, the status sent. */
  log: { method: string; key: string; auth: 'header' | 'query' | 'none'; status: number }[];
  close(): Promise<void>;
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

class SigError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeS3(opts: { bucket?: string; listPageSize?: number } = {}): Promise<FakeS3> {
  const bucket = opts.bucket ?? 'fanfare-test';
  const accessKeyId = 'FAKEACCESSKEY';
  const secretAccessKey = 'fake-secret-key-for-tests';
  const region = 'auto';
  const objects = new Map<string, { body: Buffer; contentType: string }>();
  const log: FakeS3['log'] = [];
  const pageSize = opts.listPageSize ?? 1000;

  function verify(req: http.IncomingMessage, rawPath: string, query: URLSearchParams, body: Buffer): 'header' | 'query' {
    const authz = req.headers.authorization;
    let credential: string;
    let signedHeaders: string;
    let signature: string;
    let amzDate: string;
    let payloadHash: string;
    let kind: 'header' | 'query';
    if (authz) {
      kind = 'header';
      const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authz);
      if (!m) throw new SigError(400, 'AuthorizationHeaderMalformed', 'bad Authorization header');
      [, credential, signedHeaders, signature] = m as unknown as [string, string, string, string];
      amzDate = String(req.headers['x-amz-date'] ?? '');
      payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
      if (!payloadHash) throw new SigError(400, 'InvalidRequest', 'missing x-amz-content-sha256');
      if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256(body)) throw new SigError(400, 'XAmzContentSHA256Mismatch', 'payload hash mismatch');
    } else if (query.get('X-Amz-Algorithm')) {
      kind = 'query';
      if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw new SigError(400, 'AuthorizationQueryParametersError', 'algorithm');
      credential = query.get('X-Amz-Credential') ?? '';
      signedHeaders = query.get('X-Amz-SignedHeaders') ?? '';
      signature = query.get('X-Amz-Signature') ?? '';
      amzDate = query.get('X-Amz-Date') ?? '';
      payloadHash = 'UNSIGNED-PAYLOAD';
      const expires = Number(query.get('X-Amz-Expires'));
      if (!Number.isInteger(expires) || expires < 1 || expires > 604800) throw new SigError(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires');
      const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
      if (Number.isNaN(signedAt) || Date.now() > signedAt + expires * 1000) throw new SigError(403, 'AccessDenied', 'Request has expired');
    } else {
      throw new SigError(403, 'AccessDenied', 'anonymous access is not allowed');
    }
    const [akid, date, reg, service, term] = credential.split('/');
    if (akid !== accessKeyId) throw new SigError(403, 'InvalidAccessKeyId', 'unknown access key');
    if (reg !== region || service !== 's3' || term !== 'aws4_request' || !amzDate.startsWith(date ?? '-')) {
      throw new SigError(403, 'SignatureDoesNotMatch', 'bad credential scope');
    }
    const canonicalQuery = [...query.entries()]
      .filter(([k]) => k !== 'X-Amz-Signature')
      .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
      .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const names = signedHeaders.split(';');
    if (!names.includes('host')) throw new SigError(403, 'SignatureDoesNotMatch', 'host not signed');
    const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonicalRequest = [req.method, rawPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
    const scope = `${date}/${region}/s3/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date!), region), 's3'), 'aws4_request');
    const expected = createHmac('sha256', key).update(stringToSign).digest();
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new SigError(403, 'SignatureDoesNotMatch', 'signature does not match');
    return kind;
  }

  const errorXml = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2);
      const query = new URLSearchParams(rawQuery);
      const parts = rawPath.split('/').slice(1);
      const key = parts.slice(1).map(decodeURIComponent).join('/');
      const entry = { method: req.method ?? '', key, auth: 'none' as 'header' | 'query' | 'none', status: 0 };
      log.push(entry);
      const send = (status: number, headers: Record<string, string | number>, payload?: string | Buffer) => {
        entry.status = status;
        res.writeHead(status, headers);
        res.end(req.method === 'HEAD' ? undefined : payload);
      };
      try {
        entry.auth = verify(req, rawPath, query, body);
      } catch (err) {
        if (err instanceof SigError) return send(err.status, { 'content-type': 'application/xml' }, errorXml(err.code, err.message));
        throw err;
      }
      if (decodeURIComponent(parts[0] ?? '') !== bucket) return send(404, { 'content-type': 'application/xml' }, errorXml('NoSuchBucket', 'no such bucket'));

      if (!key) {
        if (req.method === 'GET' && query.get('list-type') === '2') {
          const prefix = query.get('prefix') ?? '';
          const after = query.get('continuation-token') ?? query.get('start-after') ?? '';
          const max = Math.min(pageSize, Number(query.get('max-keys') ?? 1000));
          const all = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
          const page = all.slice(0, max);
          const truncated = all.length > page.length;
          const xml =
            `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
            `<Name>${bucket}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
            page.map((k) => `<Contents><Key>${xmlEscape(k)}</Key><Size>${objects.get(k)!.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join('') +
            (truncated ? `<NextContinuationToken>${xmlEscape(page.at(-1)!)}</NextContinuationToken>` : '') +
            `</ListBucketResult>`;
          return send(200, { 'content-type': 'application/xml' }, xml);
        }
        return send(501, { 'content-type': 'application/xml' }, errorXml('NotImplemented', 'bucket operation'));
      }

      const obj = objects.get(key);
      switch (req.method ?? '') {
        case 'PUT': {
          if (req.headers['content-encoding']?.includes('aws-chunked')) return send(501, {}, errorXml('NotImplemented', 'aws-chunked'));
          objects.set(key, { body, contentType: String(req.headers['content-type'] ?? 'application/octet-stream') });
          return send(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
        }
        case 'HEAD':
        case 'GET': {
          if (!obj) return send(404, { 'content-type': 'application/xml' }, errorXml('NoSuchKey', 'The specified key does not exist.'));
          const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
          if (range && req.method === 'GET') {
            const start = Number(range[1]);
            const end = Math.min(range[2] ? Number(range[2]) : obj.body.length - 1, obj.body.length - 1);
            if (start > end) return send(416, { 'content-type': 'application/xml' }, errorXml('InvalidRange', 'range'));
            const slice = obj.body.subarray(start, end + 1);
            return send(206, { 'content-type': obj.contentType, 'content-length': slice.length, 'content-range': `bytes ${start}-${end}/${obj.body.length}` }, slice);
          }
          return send(200, { 'content-type': obj.contentType, 'content-length': obj.body.length, 'accept-ranges': 'bytes' }, obj.body);
        }
        case 'DELETE':
          objects.delete(key);
          return send(204, {});
        default:
          return send(501, { 'content-type': 'application/xml' }, errorXml('NotImplemented', String(req.method)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId,
    secretAccessKey,
    region,
    objects,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
