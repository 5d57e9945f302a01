import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const SECRET = 'a-secret-of-at-least-thirty-two-characters';

/** The ConfigError `fn` throws; fails the test when it throws nothing or something else. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const names = (err: ConfigError) => err.problems.map((p) => p.split(':')[0]).sort();

describe('loadConfig', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmpDir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'fanfare-config-'));
    dirs.push(d);
    return d;
  };

  it('has defaults for everything', () => {
    const config = loadConfig({ AUTH_SECRET: SECRET });
    expect(config).toMatchObject({
      env: 'development',
      host: '127.0.0.1',
      port: 3000,
      publicUrl: 'http://127.0.0.1:3000',
      dataDir: path.resolve('./data'),
      databaseUrl: undefined,
      databasePoolSize: 10,
      authSecret: SECRET,
      trustedOrigins: ['http://127.0.0.1:3000'],
      logLevel: 'info',
      workerInProcess: true,
      seedDemoData: true,
      mail: { driver: 'local', from: 'Fanfare <no-reply@fanfare.local>' },
      authRateLimit: { max: 5, windowMs: 15 * 60 * 1000 },
      payments: { provider: 'sandbox' },
      // The marketplace's $50 minimum withdrawal and 7-day escrow.
      money: { payoutMinimum: 5000, escrowDays: 7 },
    });
    expect(config.payments.stripe).toBeUndefined();
    expect(path.isAbsolute(config.dataDir)).toBe(true);
    expect(config.mail.smtpUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ AUTH_SECRET: SECRET, HOST: '', PORT: '', DATA_DIR: '', DATABASE_URL: '', LOG_LEVEL: '' });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 3000, dataDir: path.resolve('./data'), databaseUrl: undefined, logLevel: 'info' });
  });

  it('reads every variable', () => {
    const dataDir = tmpDir();
    const config = loadConfig({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: '8080',
      PUBLIC_URL: 'https://shop.example.com/',
      DATA_DIR: dataDir,
      DATABASE_URL: 'postgresql://u:p@db:5432/fanfare',
      DATABASE_POOL_SIZE: '25',
      AUTH_SECRET: SECRET,
      TRUSTED_ORIGINS: ' https://a.example.com , https://b.example.com,,',
      LOG_LEVEL: 'warn',
      WORKER_IN_PROCESS: 'no',
      SEED_DEMO_DATA: '0',
      MAIL_DRIVER: 'smtp',
      MAIL_FROM: 'Shop <shop@example.com>',
      SMTP_URL: 'smtps://user:pass@smtp.example.com:465',
      AUTH_RATE_LIMIT_MAX: '10',
      AUTH_RATE_LIMIT_WINDOW_MS: '60000',
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: 'sk_live_51AbCdEf',
      STRIPE_WEBHOOK_SECRET: 'whsec_0123abcd',
      TAX_RATES: 'GB:VAT:2000',
      PAYOUT_MINIMUM_CENTS: '2000',
      ESCROW_DAYS: '14',
      PAYPLAY_COMMISSION_BPS: '1500',
      PAYPLAY_IDLE_SECONDS: '90',
      PAYPLAY_CONSENT_TTL_SECONDS: '600',
      PAYPLAY_TICK_INTERVAL_MS: '2000',
      PAYPLAY_TICK_BATCH: '500',
      STORAGE_DRIVER: 's3',
      STORAGE_DIR: path.join(dataDir, 'media'),
      S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com',
      S3_REGION: 'weur',
      S3_BUCKET: 'fanfare-media',
      S3_ACCESS_KEY_ID: 'AKIA123',
      S3_SECRET_ACCESS_KEY: 's3cr3t',
      S3_FORCE_PATH_STYLE: 'yes',
      UPLOAD_DIR: path.join(dataDir, 'tus'),
      FFMPEG_PATH: '/opt/ffmpeg/bin/ffmpeg',
      FFPROBE_PATH: '/opt/ffmpeg/bin/ffprobe',
      MEDIA_TRANSCODE_TIMEOUT_SECONDS: '3600',
      MEDIA_RETRY_DELAY_SECONDS: '5',
      PLATFORM_FEE_BPS: '1500',
      PLAYBACK_URL_TTL_SECONDS: '120',
      CHECKOUT_EXPIRY_HOURS: '48',
    });
    expect(config).toEqual({
      env: 'production',
      host: '0.0.0.0',
      port: 8080,
      publicUrl: 'https://shop.example.com',
      dataDir,
      databaseUrl: 'postgresql://u:p@db:5432/fanfare',
      databasePoolSize: 25,
      authSecret: SECRET,
      trustedOrigins: ['https://shop.example.com', 'https://a.example.com', 'https://b.example.com'],
      logLevel: 'warn',
      workerInProcess: false,
      seedDemoData: false,
      mail: { driver: 'smtp', from: 'Shop <shop@example.com>', smtpUrl: 'smtps://user:pass@smtp.example.com:465' },
      authRateLimit: { max: 10, windowMs: 60000 },
      taxRates: { GB: [{ name: 'VAT', bps: 2000 }] },
      lms: { timeoutMs: 10000 },
      // Production never calls private addresses unless told to.
      outbound: { allowPrivate: false },
      webhooks: { timeoutMs: 10000, maxAttempts: 8, retryBaseSeconds: 30 },
      payplay: { commissionBps: 1500, idleSeconds: 90, consentTtlSeconds: 600, tickIntervalMs: 2000, tickBatch: 500 },
      payments: { provider: 'stripe', stripe: { secretKey: 'sk_live_51AbCdEf', webhookSecret: 'whsec_0123abcd' } },
      money: { payoutMinimum: 2000, escrowDays: 14 },
      storage: {
        driver: 's3',
        dir: path.join(dataDir, 'media'),
        s3: { endpoint: 'https://acct.r2.cloudflarestorage.com', region: 'weur', bucket: 'fanfare-media', accessKeyId: 'AKIA123', secretAccessKey: 's3cr3t', forcePathStyle: true },
      },
      media: { uploadDir: path.join(dataDir, 'tus'), ffmpegPath: '/opt/ffmpeg/bin/ffmpeg', ffprobePath: '/opt/ffmpeg/bin/ffprobe', transcodeTimeoutSeconds: 3600, retryDelaySeconds: 5 },
      content: { platformFeeBps: 1500, playbackUrlTtlSeconds: 120, checkoutExpiryHours: 48 },
    });
  });

  it('refuses Pay as Play settings out of range, naming each', () => {
    expect(() => loadConfig({ AUTH_SECRET: SECRET, PAYPLAY_COMMISSION_BPS: '10001', PAYPLAY_IDLE_SECONDS: '5', PAYPLAY_TICK_BATCH: '0' })).toThrow(
      /PAYPLAY_COMMISSION_BPS[\s\S]*PAYPLAY_IDLE_SECONDS[\s\S]*PAYPLAY_TICK_BATCH/,
    );
    expect(loadConfig({ AUTH_SECRET: SECRET }).payplay).toEqual({ commissionBps: 2000, idleSeconds: 120, consentTtlSeconds: 3600, tickIntervalMs: 5000, tickBatch: 2000 });
  });

  it('allows private outbound targets outside production by default, and as OUTBOUND_ALLOW_PRIVATE says', () => {
    expect(loadConfig({ AUTH_SECRET: SECRET }).outbound).toEqual({ allowPrivate: true });
    expect(loadConfig({ AUTH_SECRET: SECRET, NODE_ENV: 'test' }).outbound).toEqual({ allowPrivate: true });
    expect(loadConfig({ AUTH_SECRET: SECRET, NODE_ENV: 'production' }).outbound).toEqual({ allowPrivate: false });
    expect(loadConfig({ AUTH_SECRET: SECRET, NODE_ENV: 'production', OUTBOUND_ALLOW_PRIVATE: 'true' }).outbound).toEqual({ allowPrivate: true });
    expect(loadConfig({ AUTH_SECRET: SECRET, OUTBOUND_ALLOW_PRIVATE: 'false' }).outbound).toEqual({ allowPrivate: false });
    expect(loadConfig({ AUTH_SECRET: SECRET, WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_RETRY_BASE_SECONDS: '0', WEBHOOK_TIMEOUT_MS: '500' }).webhooks).toEqual({ maxAttempts: 3, retryBaseSeconds: 0, timeoutMs: 500 });
    expect(() => loadConfig({ AUTH_SECRET: SECRET, OUTBOUND_ALLOW_PRIVATE: 'maybe', WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/OUTBOUND_ALLOW_PRIVATE[\s\S]*WEBHOOK_MAX_ATTEMPTS/);
  });

  it('refuses a platform fee above 100 % and a playback URL lifetime under 10 s', () => {
    expect(() => loadConfig({ AUTH_SECRET: SECRET, PLATFORM_FEE_BPS: '10001', PLAYBACK_URL_TTL_SECONDS: '5' })).toThrow(/PLATFORM_FEE_BPS[\s\S]*PLAYBACK_URL_TTL_SECONDS/);
  });

  it('derives the public URL from a wildcard host', () => {
    expect(loadConfig({ AUTH_SECRET: SECRET, HOST: '0.0.0.0', PORT: '4000' }).publicUrl).toBe('http://127.0.0.1:4000');
    expect(loadConfig({ AUTH_SECRET: SECRET, HOST: 'fanfare.lan' }).publicUrl).toBe('http://fanfare.lan:3000');
  });

  it('lists every bad variable at once', () => {
    const err = configError(() =>
      loadConfig({
        NODE_ENV: 'staging',
        PORT: 'eighty',
        PUBLIC_URL: 'not a url',
        DATABASE_URL: 'mysql://db/fanfare',
        DATABASE_POOL_SIZE: '0',
        AUTH_SECRET: 'short',
        LOG_LEVEL: 'loud',
        WORKER_IN_PROCESS: 'maybe',
        MAIL_DRIVER: 'carrier-pigeon',
        SMTP_URL: 'http://smtp.example.com',
        AUTH_RATE_LIMIT_WINDOW_MS: '10',
        PAYMENT_PROVIDER: 'paypal',
        STRIPE_SECRET_KEY: 'pk_test_123',
        STRIPE_WEBHOOK_SECRET: 'secret',
        PAYOUT_MINIMUM_CENTS: '49.99',
        ESCROW_DAYS: '-1',
      }),
    );
    expect(names(err)).toEqual(
      [
        'NODE_ENV',
        'PORT',
        'PUBLIC_URL',
        'DATABASE_URL',
        'DATABASE_POOL_SIZE',
        'AUTH_SECRET',
        'LOG_LEVEL',
        'WORKER_IN_PROCESS',
        'MAIL_DRIVER',
        'SMTP_URL',
        'AUTH_RATE_LIMIT_WINDOW_MS',
        'PAYMENT_PROVIDER',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRET',
        'PAYOUT_MINIMUM_CENTS',
        'ESCROW_DAYS',
      ].sort(),
    );
    for (const p of err.problems) expect(err.message).toContain(p);
    expect(err.message).toMatch(/^Invalid configuration:/);
    expect(err.problems.find((p) => p.startsWith('AUTH_SECRET'))).toContain('at least 32 characters');
    expect(err.problems.find((p) => p.startsWith('DATABASE_URL'))).toContain('postgres://');
  });

  it('lists the rules between variables together with the malformed ones', () => {
    const err = configError(() => loadConfig({ NODE_ENV: 'production', MAIL_DRIVER: 'smtp', WORKER_IN_PROCESS: 'false', PORT: '70000' }));
    expect(names(err)).toEqual(['AUTH_SECRET', 'PORT', 'SMTP_URL', 'WORKER_IN_PROCESS']);
    // A malformed variable is reported once, not again by a rule that needs it.
    const bad = configError(() => loadConfig({ AUTH_SECRET: SECRET, MAIL_DRIVER: 'smtp', SMTP_URL: 'http://x' }));
    expect(bad.problems).toEqual(['SMTP_URL: must be an smtp:// or smtps:// URL']);
  });

  it('needs SMTP_URL when MAIL_DRIVER=smtp', () => {
    const err = configError(() => loadConfig({ AUTH_SECRET: SECRET, MAIL_DRIVER: 'smtp' }));
    expect(err.problems).toEqual(['SMTP_URL: required when MAIL_DRIVER=smtp']);
    expect(loadConfig({ AUTH_SECRET: SECRET, MAIL_DRIVER: 'smtp', SMTP_URL: 'smtp://127.0.0.1:2525' }).mail).toEqual({
      driver: 'smtp',
      from: 'Fanfare <no-reply@fanfare.local>',
      smtpUrl: 'smtp://127.0.0.1:2525',
    });
  });

  it('needs both Stripe secrets when PAYMENT_PROVIDER=stripe', () => {
    const err = configError(() => loadConfig({ AUTH_SECRET: SECRET, PAYMENT_PROVIDER: 'stripe' }));
    expect(err.problems).toEqual([
      'STRIPE_SECRET_KEY: required when PAYMENT_PROVIDER=stripe',
      'STRIPE_WEBHOOK_SECRET: required when PAYMENT_PROVIDER=stripe',
    ]);
    const one = configError(() => loadConfig({ AUTH_SECRET: SECRET, PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_test_abc' }));
    expect(one.problems).toEqual(['STRIPE_WEBHOOK_SECRET: required when PAYMENT_PROVIDER=stripe']);
    // A malformed secret is reported for its format, once.
    const bad = configError(() => loadConfig({ AUTH_SECRET: SECRET, PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'pk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_x' }));
    expect(names(bad)).toEqual(['STRIPE_SECRET_KEY']);
    expect(bad.problems[0]).toContain('secret key');
    expect(loadConfig({ AUTH_SECRET: SECRET, PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_x' }).payments).toEqual({
      provider: 'stripe',
      stripe: { secretKey: 'sk_test_abc', webhookSecret: 'whsec_x' },
    });
    // The sandbox needs neither.
    expect(loadConfig({ AUTH_SECRET: SECRET }).payments).toEqual({ provider: 'sandbox' });
  });

  it('needs AUTH_SECRET in production', () => {
    const err = configError(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmpDir() }));
    expect(err.problems).toEqual(['AUTH_SECRET: required in production']);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_SECRET: SECRET }).authSecret).toBe(SECRET);
  });

  it('needs DATABASE_URL when the worker runs in another process', () => {
    const err = configError(() => loadConfig({ AUTH_SECRET: SECRET, WORKER_IN_PROCESS: 'false' }));
    expect(names(err)).toEqual(['WORKER_IN_PROCESS']);
    expect(loadConfig({ AUTH_SECRET: SECRET, WORKER_IN_PROCESS: 'false', DATABASE_URL: 'postgres://db/x' }).workerInProcess).toBe(false);
  });

  it('reads TAX_RATES: GST 18 % for India by default, several taxes per country, none on request', () => {
    expect(loadConfig({ AUTH_SECRET: SECRET }).taxRates).toEqual({ IN: [{ name: 'GST', bps: 1800 }] });
    expect(loadConfig({ AUTH_SECRET: SECRET, TAX_RATES: 'in:GST:1800, GB:VAT:2000,CA:GST:500,CA:PST:700' }).taxRates).toEqual({
      IN: [{ name: 'GST', bps: 1800 }],
      GB: [{ name: 'VAT', bps: 2000 }],
      CA: [
        { name: 'GST', bps: 500 },
        { name: 'PST', bps: 700 },
      ],
    });
    expect(loadConfig({ AUTH_SECRET: SECRET, TAX_RATES: 'none' }).taxRates).toEqual({});
    for (const bad of ['IN:GST', 'IND:GST:1800', 'IN:GST:18%', 'IN:GST:10001', 'IN:GST:1800,IN:gst:900']) {
      const err = configError(() => loadConfig({ AUTH_SECRET: SECRET, TAX_RATES: bad }));
      expect(names(err), bad).toEqual(['TAX_RATES']);
    }
  });

  it('keeps a generated secret in the data directory outside production', () => {
    const dataDir = path.join(tmpDir(), 'nested');
    const first = loadConfig({ DATA_DIR: dataDir });
    expect(first.authSecret.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dataDir, '.auth-secret');
    expect(readFileSync(file, 'utf8')).toBe(first.authSecret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The same secret on the next start, so sessions survive restarts.
    expect(loadConfig({ DATA_DIR: dataDir }).authSecret).toBe(first.authSecret);
    // Another install gets another one.
    expect(loadConfig({ DATA_DIR: tmpDir() }).authSecret).not.toBe(first.authSecret);
  });
});
