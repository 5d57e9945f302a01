import { OutboundError, outboundRequest } from '../../core/outbound-http.ts';
import type { LmsCourse, LmsPlatform } from './lms.schema.ts';

/**
 * The two calls Fanfare makes to an LMS, through the guarded outbound request (core/outbound-http:
 * public addresses only unless private ones are allowed, a timeout, a body cap):
 *
 * - Moodle web services (REST, JSON): `webservice/rest/server.php?wstoken=…&wsfunction=…&
 *   moodlewsrestformat=json`. Moodle answers failures with HTTP 200 and
 *   `{"exception": …, "errorcode": …, "message": …}` (`invalidtoken` for a bad token).
 * - Canvas REST API: `Authorization: Bearer <token>`; a bad token is a 401 with
 *   `{"errors": [{"message": …}]}`; lists are paged by the `Link` header.
 *
 * Redirects are not followed: the token would travel to wherever the site points, and a site
 * that redirects is better configured with its final address. Error messages name the site's
 * origin and path only, never the query string that carries a Moodle token.
 */

export interface LmsSite {
  platform: LmsPlatform;
  /** The site's base URL, as stored (http or https, no query). */
  url: string;
  apiKey: string;
  apiSecret: string | null;
}

export type LmsErrorCode = 'forbidden_address' | 'invalid_token' | 'access_denied' | 'unreachable' | 'timeout' | 'redirected' | 'http_error' | 'bad_response' | 'lms_error';

export class LmsError extends Error {
  constructor(
    readonly code: LmsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LmsError';
  }
}

export interface SiteInfo {
  /** What the site calls itself (Moodle), or its host (Canvas has no site name in its API). */
  siteName: string;
  /** Who the token acts as. */
  account: string | null;
}

export interface CourseList {
  total: number;
  courses: LmsCourse[];
}

export interface LmsClient {
  siteInfo(site: LmsSite): Promise<SiteInfo>;
  courses(site: LmsSite): Promise<CourseList>;
}

export interface LmsClientOptions {
  timeoutMs: number;
  /** Largest response body read, in bytes. */
  maxBodyBytes?: number;
  /** Canvas pages of 100 courses followed at most. */
  maxPages?: number;
  /** Allows sites on loopback and private addresses (OUTBOUND_ALLOW_PRIVATE); refused by default. */
  allowPrivate?: boolean;
}

const platformName = { moodle: 'Moodle', canvas: 'Canvas' } as const;

/** Origin and path only: what is safe to show and log. */
const where = (u: URL) => `${u.origin}${u.pathname}`;

const base = (site: LmsSite) => site.url.replace(/\/+$/, '');

export function createLmsClient(opts: LmsClientOptions): LmsClient {
  const maxBody = opts.maxBodyBytes ?? 20 * 1024 * 1024;
  const maxPages = opts.maxPages ?? 20;

  async function call(site: LmsSite, url: URL, headers: Record<string, string>): Promise<{ status: number; body: unknown; link: string | null }> {
    const name = platformName[site.platform];
    let res;
    try {
      res = await outboundRequest(url, { headers: { accept: 'application/json', ...headers } }, { allowPrivate: opts.allowPrivate ?? false, timeoutMs: opts.timeoutMs, maxBodyBytes: maxBody });
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      switch (err.code) {
        case 'timeout':
          throw new LmsError('timeout', `${name} at ${url.origin} did not answer within ${Math.round(opts.timeoutMs / 100) / 10} s`);
        case 'too_large':
          throw new LmsError('bad_response', `${name} at ${url.origin} sent more than ${maxBody} bytes`);
        case 'forbidden_address':
          throw new LmsError('forbidden_address', `${name} refused: ${err.message}`);
        case 'bad_url':
        case 'unresolvable':
        case 'unreachable':
          throw new LmsError('unreachable', `Could not reach ${name} at ${url.origin}${err.systemCode ? ` (${err.systemCode})` : ''}`);
      }
    }
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      let to = '';
      try {
        if (location) to = ` to ${where(new URL(location, url))}`;
      } catch {
        // an unparsable Location is reported without it
      }
      throw new LmsError('redirected', `${name} answered ${where(url)} with a redirect${to}; enter the site's final address`);
    }
    const text = res.body;
    let body: unknown;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, link: res.headers.get('link') };
  }

  // --- Moodle ------------------------------------------------------------------------------

  async function moodle(site: LmsSite, wsfunction: string): Promise<unknown> {
    const url = new URL(`${base(site)}/webservice/rest/server.php`);
    url.searchParams.set('wstoken', site.apiKey);
    url.searchParams.set('wsfunction', wsfunction);
    url.searchParams.set('moodlewsrestformat', 'json');
    const { status, body } = await call(site, url, {});
    if (status !== 200) {
      throw new LmsError('http_error', `Moodle answered HTTP ${status} at ${where(url)}; check the site address and that web services are enabled`);
    }
    if (body === undefined) throw new LmsError('bad_response', `${where(url)} did not answer with JSON; is this a Moodle site with REST web services enabled?`);
    if (body && typeof body === 'object' && !Array.isArray(body) && 'exception' in body) {
      const e = body as { errorcode?: unknown; message?: unknown };
      const errorcode = typeof e.errorcode === 'string' ? e.errorcode : 'unknown';
      const message = typeof e.message === 'string' ? e.message : 'no message';
      if (errorcode === 'invalidtoken') throw new LmsError('invalid_token', `Moodle refused the token: ${message} (invalidtoken)`);
      if (errorcode === 'accessexception' || errorcode === 'nopermissions' || errorcode === 'webservicesnotenabled' || errorcode === 'enablewsdescription') {
        throw new LmsError('access_denied', `Moodle refused ${wsfunction}: ${message} (${errorcode})`);
      }
      throw new LmsError('lms_error', `Moodle refused ${wsfunction}: ${message} (${errorcode})`);
    }
    return body;
  }

  // --- Canvas ------------------------------------------------------------------------------

  async function canvas(site: LmsSite, url: URL): Promise<{ body: unknown; link: string | null }> {
    const { status, body, link } = await call(site, url, { authorization: `Bearer ${site.apiKey}` });
    const message = () => {
      const errors = (body as { errors?: unknown } | null)?.errors;
      const first = Array.isArray(errors) ? (errors[0] as { message?: unknown } | undefined)?.message : undefined;
      return typeof first === 'string' ? first : `HTTP ${status}`;
    };
    if (status === 401) throw new LmsError('invalid_token', `Canvas refused the token: ${message()}`);
    if (status === 403) throw new LmsError('access_denied', `Canvas refused access to ${url.pathname}: ${message()}`);
    if (status < 200 || status >= 300) {
      throw new LmsError('http_error', `Canvas answered HTTP ${status} at ${where(url)}; check the site address`);
    }
    if (body === undefined) throw new LmsError('bad_response', `${where(url)} did not answer with JSON; is this a Canvas site?`);
    return { body, link };
  }

  /** The `rel="next"` URL of a Link header, only when it stays on the same origin. */
  function nextPage(link: string | null, current: URL): URL | null {
    if (!link) return null;
    for (const part of link.split(',')) {
      const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part.trim());
      if (!m) continue;
      try {
        const next = new URL(m[1]!, current);
        return next.origin === current.origin ? next : null;
      } catch {
        return null;
      }
    }
    return null;
  }

  const summary = (all: LmsCourse[]): CourseList => ({ total: all.length, courses: all.slice(0, 100) });

  return {
    async siteInfo(site) {
      if (site.platform === 'moodle') {
        const info = (await moodle(site, 'core_webservice_get_site_info')) as { sitename?: unknown; username?: unknown; fullname?: unknown } | null;
        if (!info || typeof info.sitename !== 'string') throw new LmsError('bad_response', 'Moodle answered core_webservice_get_site_info without a site name');
        const account = typeof info.username === 'string' ? info.username : typeof info.fullname === 'string' ? info.fullname : null;
        return { siteName: info.sitename.slice(0, 255), account };
      }
      const url = new URL(`${base(site)}/api/v1/users/self`);
      const { body } = await canvas(site, url);
      const self = body as { name?: unknown; login_id?: unknown } | null;
      if (!self || typeof self !== 'object') throw new LmsError('bad_response', 'Canvas answered /api/v1/users/self without a user');
      return { siteName: url.host, account: typeof self.name === 'string' ? self.name : null };
    },

    async courses(site) {
      if (site.platform === 'moodle') {
        const list = await moodle(site, 'core_course_get_courses');
        if (!Array.isArray(list)) throw new LmsError('bad_response', 'Moodle answered core_course_get_courses without a list');
        const courses = (list as { id?: unknown; fullname?: unknown; shortname?: unknown; format?: unknown }[])
          // Course 1 is the site's front page, not a course.
          .filter((c) => c && c.format !== 'site' && (typeof c.id === 'number' || typeof c.id === 'string'))
          .map((c) => ({
            id: String(c.id),
            name: typeof c.fullname === 'string' ? c.fullname : `Course ${String(c.id)}`,
            code: typeof c.shortname === 'string' ? c.shortname : null,
          }));
        return summary(courses);
      }
      const all: LmsCourse[] = [];
      let url: URL | null = new URL(`${base(site)}/api/v1/courses`);
      url.searchParams.set('per_page', '100');
      for (let page = 0; url && page < maxPages; page++) {
        const { body, link }: { body: unknown; link: string | null } = await canvas(site, url);
        if (!Array.isArray(body)) throw new LmsError('bad_response', 'Canvas answered /api/v1/courses without a list');
        for (const c of body as { id?: unknown; name?: unknown; course_code?: unknown }[]) {
          if (!c || (typeof c.id !== 'number' && typeof c.id !== 'string')) continue;
          all.push({
            id: String(c.id),
            name: typeof c.name === 'string' ? c.name : `Course ${String(c.id)}`,
            code: typeof c.course_code === 'string' ? c.course_code : null,
          });
        }
        url = nextPage(link, url);
      }
      return summary(all);
    },
  };
}
