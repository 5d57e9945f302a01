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
  AUTH_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(5),
  AUTH_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).default(15 * 60 * 1000),
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
