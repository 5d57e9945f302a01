import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL');

export interface TaxRate {
  readonly name: string;
  readonly bps: number;
}

/**
 * `COUNTRY:NAME:BASIS_POINTS` entries separated by commas (`IN:GST:1800,GB:VAT:2000`); a country
 * may have several taxes (`CA:GST:500,CA:PST:700`), applied in the order given; `none` for none.
 */
const taxRates = z.string().transform((v, ctx) => {
  const out: Record<string, TaxRate[]> = {};
  if (v.trim().toLowerCase() === 'none') return out;
  for (const raw of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]{2}):([A-Za-z0-9 ]{1,20}):(\d{1,5})$/.exec(raw);
    const bps = m ? Number(m[3]) : NaN;
    if (!m || bps > 10_000) {
      ctx.addIssue({ code: 'custom', message: `"${raw}" is not COUNTRY:NAME:BASIS_POINTS (e.g. IN:GST:1800, at most 10000 basis points)` });
      continue;
    }
    const country = m[1]!.toUpperCase();
    const name = m[2]!.trim();
    if (out[country]?.some((r) => r.name.toLowerCase() === name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', message: `${country}:${name} is listed twice` });
      continue;
    }
    (out[country] ??= []).push(Object.freeze({ name, bps }));
  }
  return out;
});

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z.url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TRUSTED_ORIGINS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [])),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKER_IN_PROCESS: bool.default(true),
  SEED_DEMO_DATA: bool.default(true),
  MAIL_DRIVER: z.enum(['local', 'smtp']).default('local'),
  MAIL_FROM: z.string().min(3).default('Fanfare <no-reply@fanfare.local>'),
  SMTP_URL: z
    .string()
    .refine((v) => /^smtps?:\/\//.test(v), 'must be an smtp:// or smtps:// URL')
    .optional(),
  PAYMENT_PROVIDER: z.enum(['sandbox', 'stripe']).default('sandbox'),
  STRIPE_SECRET_KEY: z
    .string()
    .refine((v) => /^(sk|rk)_(test|live)_\w+$/.test(v), 'must be a Stripe secret key (sk_test_…, sk_live_…, or a restricted rk_… key)')
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .refine((v) => /^whsec_\w+$/.test(v), 'must be a Stripe webhook signing secret (whsec_…)')
    .optional(),
  TAX_RATES: taxRates.default(() => ({ IN: [{ name: 'GST', bps: 1800 }] })),
  PAYOUT_MINIMUM_CENTS: z.coerce.number().int().min(1).max(1_000_000_000_000).default(5000),
  ESCROW_DAYS: z.coerce.number().int().min(0).max(365).default(7),
  PAYPLAY_COMMISSION_BPS: z.coerce.number().int().min(0).max(10_000).default(2000),
  PAYPLAY_IDLE_SECONDS: z.coerce.number().int().min(10).max(86_400).default(120),
  PAYPLAY_CONSENT_TTL_SECONDS: z.coerce.number().int().min(60).max(30 * 86_400).default(3600),
  PAYPLAY_TICK_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  PAYPLAY_TICK_BATCH: z.coerce.number().int().min(1).max(20_000).default(2000),
  STORAGE_DRIVER: z.enum(['disk', 's3']).default('disk'),
  STORAGE_DIR: z.string().min(1).optional(),
  S3_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().min(1).default('auto'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)')
    .optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  UPLOAD_DIR: z.string().min(1).optional(),
  FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
  FFPROBE_PATH: z.string().min(1).default('ffprobe'),
  MEDIA_TRANSCODE_TIMEOUT_SECONDS: z.coerce.number().int().min(10).max(86_400).default(6 * 3600),
  MEDIA_RETRY_DELAY_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  AUTH_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(5),
  AUTH_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).default(15 * 60 * 1000),
  LMS_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // No default here: it depends on NODE_ENV (off in production, on in development and tests).
  OUTBOUND_ALLOW_PRIVATE: bool.optional(),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
  WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  PLATFORM_FEE_BPS: z.coerce.number().int().min(0).max(10000).default(1000),
  PLAYBACK_URL_TTL_SECONDS: z.coerce.number().int().min(10).max(86400).default(300),
  CHECKOUT_EXPIRY_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(24),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  readonly authSecret: string;
  readonly trustedOrigins: readonly string[];
  readonly logLevel: string;
  readonly workerInProcess: boolean;
  readonly seedDemoData: boolean;
  readonly mail: { readonly driver: 'local' | 'smtp'; readonly from: string; readonly smtpUrl?: string };
  readonly authRateLimit: { readonly max: number; readonly windowMs: number };
  /** Taxes on invoices by the customer's billing country (ISO 3166 alpha-2, upper case). */
  readonly taxRates: Readonly<Record<string, readonly TaxRate[]>>;
  /** Calls to connected Moodle and Canvas sites. */
  readonly lms: { readonly timeoutMs: number };
  /**
   * Calls to user-supplied URLs (LMS sites, partner webhooks): whether loopback, private and other
   * non-public addresses may be called. Off in production unless OUTBOUND_ALLOW_PRIVATE=true.
   */
  readonly outbound: { readonly allowPrivate: boolean };
  /** Webhooks to partner platforms: the timeout of one attempt, attempts in all, the first retry's delay. */
  readonly webhooks: { readonly timeoutMs: number; readonly maxAttempts: number; readonly retryBaseSeconds: number };
  /** The marketplace's rules: the smallest payout (minor units) and the days a sale stays in escrow. */
  readonly money: { readonly payoutMinimum: number; readonly escrowDays: number };
  /** Pay as Play: default commission, idle timeout, consent code lifetime, metering tick. */
  readonly payplay: {
    readonly commissionBps: number;
    readonly idleSeconds: number;
    readonly consentTtlSeconds: number;
    readonly tickIntervalMs: number;
    readonly tickBatch: number;
  };
  /** `s3` is present when the driver is `s3` (bucket and credentials then required). */
  readonly storage: {
    readonly driver: 'disk' | 's3';
    readonly dir: string;
    readonly s3?: {
      readonly endpoint?: string;
      readonly region: string;
      readonly bucket: string;
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
      readonly forcePathStyle: boolean;
    };
  };
  readonly media: {
    /** Where tus keeps uploads in progress (always local disk). */
    readonly uploadDir: string;
    readonly ffmpegPath: string;
    readonly ffprobePath: string;
    readonly transcodeTimeoutSeconds: number;
    /** Wait before the one retry of a failed transcode. */
    readonly retryDelaySeconds: number;
  };
  /** Creator content: the default platform fee, signed playback URL lifetime, unpaid checkout lifetime. */
  readonly content: { readonly platformFeeBps: number; readonly playbackUrlTtlSeconds: number; readonly checkoutExpiryHours: number };
  /** `stripe` is present when both Stripe secrets are set (always with provider `stripe`). */
  readonly payments: {
    readonly provider: 'sandbox' | 'stripe';
    readonly stripe?: { readonly secretKey: string; readonly webhookSecret: string };
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Parses the environment once. Every bad variable is reported together so an operator fixes
 * them in one go rather than one restart at a time.
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // The rules between variables are checked even when some variable is malformed, on the values
  // that did parse, so every problem is reported in one go.
  const v = parsed.success ? parsed.data : parseEachVariable(cleaned);
  if (v.MAIL_DRIVER === 'smtp' && !cleaned.SMTP_URL) problems.push('SMTP_URL: required when MAIL_DRIVER=smtp');
  if (v.PAYMENT_PROVIDER === 'stripe') {
    if (!cleaned.STRIPE_SECRET_KEY) problems.push('STRIPE_SECRET_KEY: required when PAYMENT_PROVIDER=stripe');
    if (!cleaned.STRIPE_WEBHOOK_SECRET) problems.push('STRIPE_WEBHOOK_SECRET: required when PAYMENT_PROVIDER=stripe');
  }
  if (v.STORAGE_DRIVER === 's3') {
    for (const name of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) {
      if (!cleaned[name]) problems.push(`${name}: required when STORAGE_DRIVER=s3`);
    }
  }
  if (v.NODE_ENV === 'production' && !cleaned.AUTH_SECRET) problems.push('AUTH_SECRET: required in production');
  if (v.WORKER_IN_PROCESS === false && !cleaned.DATABASE_URL) {
    problems.push('WORKER_IN_PROCESS: false needs DATABASE_URL (the embedded database serves one process, so nothing else could run the worker)');
  }
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;

  const dataDir = path.resolve(e.DATA_DIR);
  const publicUrl = (e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`).replace(/\/$/, '');
  return Object.freeze({
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl,
    dataDir,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    authSecret: e.AUTH_SECRET ?? localSecret(dataDir),
    trustedOrigins: [publicUrl, ...e.TRUSTED_ORIGINS],
    logLevel: e.LOG_LEVEL,
    workerInProcess: e.WORKER_IN_PROCESS,
    seedDemoData: e.SEED_DEMO_DATA,
    mail: { driver: e.MAIL_DRIVER, from: e.MAIL_FROM, ...(e.SMTP_URL ? { smtpUrl: e.SMTP_URL } : {}) },
    authRateLimit: { max: e.AUTH_RATE_LIMIT_MAX, windowMs: e.AUTH_RATE_LIMIT_WINDOW_MS },
    taxRates: Object.freeze(e.TAX_RATES),
    lms: { timeoutMs: e.LMS_HTTP_TIMEOUT_MS },
    outbound: { allowPrivate: e.OUTBOUND_ALLOW_PRIVATE ?? e.NODE_ENV !== 'production' },
    webhooks: { timeoutMs: e.WEBHOOK_TIMEOUT_MS, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, retryBaseSeconds: e.WEBHOOK_RETRY_BASE_SECONDS },
    money: { payoutMinimum: e.PAYOUT_MINIMUM_CENTS, escrowDays: e.ESCROW_DAYS },
    payplay: {
      commissionBps: e.PAYPLAY_COMMISSION_BPS,
      idleSeconds: e.PAYPLAY_IDLE_SECONDS,
      consentTtlSeconds: e.PAYPLAY_CONSENT_TTL_SECONDS,
      tickIntervalMs: e.PAYPLAY_TICK_INTERVAL_MS,
      tickBatch: e.PAYPLAY_TICK_BATCH,
    },
    storage: {
      driver: e.STORAGE_DRIVER,
      dir: path.resolve(e.STORAGE_DIR ?? path.join(dataDir, 'storage')),
      ...(e.STORAGE_DRIVER === 's3'
        ? {
            s3: {
              ...(e.S3_ENDPOINT ? { endpoint: e.S3_ENDPOINT } : {}),
              region: e.S3_REGION,
              bucket: e.S3_BUCKET!,
              accessKeyId: e.S3_ACCESS_KEY_ID!,
              secretAccessKey: e.S3_SECRET_ACCESS_KEY!,
              forcePathStyle: e.S3_FORCE_PATH_STYLE,
            },
          }
        : {}),
    },
    media: {
      uploadDir: path.resolve(e.UPLOAD_DIR ?? path.join(dataDir, 'uploads')),
      ffmpegPath: e.FFMPEG_PATH,
      ffprobePath: e.FFPROBE_PATH,
      transcodeTimeoutSeconds: e.MEDIA_TRANSCODE_TIMEOUT_SECONDS,
      retryDelaySeconds: e.MEDIA_RETRY_DELAY_SECONDS,
    },
    content: { platformFeeBps: e.PLATFORM_FEE_BPS, playbackUrlTtlSeconds: e.PLAYBACK_URL_TTL_SECONDS, checkoutExpiryHours: e.CHECKOUT_EXPIRY_HOURS },
    payments: {
      provider: e.PAYMENT_PROVIDER,
      ...(e.STRIPE_SECRET_KEY && e.STRIPE_WEBHOOK_SECRET ? { stripe: { secretKey: e.STRIPE_SECRET_KEY, webhookSecret: e.STRIPE_WEBHOOK_SECRET } } : {}),
    },
  });
}

/** Each variable parsed on its own; a malformed one is left out. */
function parseEachVariable(cleaned: Record<string, string | undefined>): Partial<z.output<typeof envSchema>> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const r = schema.safeParse(cleaned[name]);
    if (r.success) out[name] = r.data;
  }
  return out;
}

/**
 * Outside production a missing AUTH_SECRET is generated once and kept in the data directory,
 * so sessions survive restarts of a local install without any set-up.
 */
function localSecret(dataDir: string): string {
  const file = path.join(dataDir, '.auth-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
