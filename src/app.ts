import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from './config.ts';
import { createAccess } from './core/access.ts';
import { anonymous, type RequestMeta } from './core/actor.ts';
import { AppError } from './core/errors.ts';
import { installErrorHandling } from './core/http.ts';
import { installIdempotency, purgeIdempotencyKeys } from './core/idempotency.ts';
import { JobQueue } from './core/jobs.ts';
import { createLogger, requestLogger, type Logger } from './core/logger.ts';
import { Outbox } from './core/outbox.ts';
import { postgresRateLimitStore, purgeRateLimits } from './core/rate-limit.ts';
import { serializerCompiler } from './core/serializer.ts';
import type { Database } from './db/client.ts';
import { migrationStatus } from './db/migrate.ts';
import { API_KEY_PREFIX, apiKeyRoutes, createApiKeyRepository, createApiKeyService } from './modules/apikeys/index.ts';
import { auditRoutes, createAuditRepository, createAuditService } from './modules/audit/index.ts';
import {
  createAuth,
  createIdentityRepository,
  createIdentityService,
  identityAuthHooks,
  identityRoutes,
} from './modules/identity/index.ts';
import { createMailRepository, createMailService, LocalMailboxTransport, mailRoutes, registerMailEvents, SmtpTransport } from './modules/mail/index.ts';
import { createLedgerRepository, createLedgerService } from './modules/ledger/index.ts';
import { createPaymentRepository, createPaymentService, createStripeProvider, paymentRoutes, SandboxProvider } from './modules/payments/index.ts';
import { createInvoiceRepository, createInvoiceService, invoiceRoutes } from './modules/invoices/index.ts';
import { createSaleService, createWalletRepository, createWalletService, walletRoutes } from './modules/wallets/index.ts';
import { createPayoutRepository, createPayoutService, payoutRoutes, SandboxPayoutProvider, type PayoutProvider } from './modules/payouts/index.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { contentRoutes, createContentRepository, createContentService, createPlaybackService, createPurchaseService, createThumbnailService } from './modules/content/index.ts';
import { createHmac } from 'node:crypto';
import { formatMoney } from './core/money.ts';
import { createNotificationRepository, createNotificationService, notificationRoutes } from './modules/notifications/index.ts';
import { createLmsClient, createLmsRepository, createLmsService, LMS_SECRET_PURPOSE, lmsRoutes } from './modules/lms/index.ts';
import { createSecretBox } from './core/secret-box.ts';
import { createPayplayRepository, createPayplayService, PLATFORM_KEY_PREFIX, payplayRoutes } from './modules/payplay/index.ts';
import { createWebhookRepository, createWebhookSecretBox, createWebhookService, registerWebhookEvents, webhookRoutes } from './modules/webhooks/index.ts';
import { createMediaRepository, createMediaService, createUploadStore, mediaRoutes, mountUploads } from './modules/media/index.ts';
import { createStorage } from './modules/storage/index.ts';
import {
  createOrganizationRepository,
  createOrganizationService,
  organizationRoutes,
} from './modules/organizations/index.ts';

export const version = '0.1.0';

/** Wires every module once: repositories, then services, then event handlers and jobs. */
export interface ServiceOptions {
  /** Where escrow and hold release read the time; tests pass a ManualClock. */
  clock?: Clock;
  /** The payout provider adapter; the sandbox by default. */
  payoutProvider?: PayoutProvider;
}

export function createServices(config: Config, database: Database, log: Logger, opts: ServiceOptions = {}) {
  const clock = opts.clock ?? systemClock;
  const { db } = database;
  const outbox = new Outbox(db, log);
  const jobs = new JobQueue(database, log, { maintenance: config.env !== 'test' });

  const orgRepo = createOrganizationRepository(db);
  const access = createAccess((userId, orgId) => orgRepo.getMembership(userId, orgId));

  const audit = createAuditService({ repo: createAuditRepository(db), access });
  const mailRepo = createMailRepository(db);
  const transport = config.mail.driver === 'smtp' ? new SmtpTransport(config.mail.smtpUrl!) : new LocalMailboxTransport(mailRepo);
  const mail = createMailService({ db, repo: mailRepo, transport, access, from: config.mail.from, log });

  const identityRepo = createIdentityRepository(db, database.named);
  const auth = createAuth(
    config,
    db,
    identityAuthHooks({ repo: () => identityRepo, mail: () => mail, audit: () => audit, publicUrl: config.publicUrl }),
  );
  const identity = createIdentityService({ db, auth, repo: identityRepo, access, audit, mail, publicUrl: config.publicUrl });
  const organizations = createOrganizationService({ db, repo: orgRepo, access, audit, mail, publicUrl: config.publicUrl });
  const apiKeys = createApiKeyService({ db, repo: createApiKeyRepository(db), access, audit });
  const notifications = createNotificationService({ db, repo: createNotificationRepository(db), mail, access, audit, publicUrl: config.publicUrl });

  const lms = createLmsService({
    repo: createLmsRepository(db),
    access,
    audit,
    jobs,
    box: createSecretBox(config.authSecret, LMS_SECRET_PURPOSE),
    client: createLmsClient({ timeoutMs: config.lms.timeoutMs, allowPrivate: config.outbound.allowPrivate }),
    log,
  });
  jobs.register('lms.sync', async ({ connectionId }) => lms.runSync(connectionId));

  const ledgerRepo = createLedgerRepository(db);
  const ledger = createLedgerService({ db, repo: ledgerRepo, log });

  // The sandbox signs its webhooks with a key derived from AUTH_SECRET, so nothing else needs setting.
  const sandbox = new SandboxProvider({ db, jobs, log, secret: createHmac('sha256', config.authSecret).update('sandbox-webhooks').digest('hex'), publicUrl: config.publicUrl });
  const provider = config.payments.provider === 'stripe' ? createStripeProvider(config, { returnUrl: `${config.publicUrl}/` }) : sandbox;
  const payments = createPaymentService({ db, repo: createPaymentRepository(db), ledger, provider, access, outbox, log });
  const walletRepo = createWalletRepository(db);
  const wallets = createWalletService({ db, repo: walletRepo, ledger, payments, access, jobs, outbox, log });
  const invoices = createInvoiceService({
    db,
    repo: createInvoiceRepository(db),
    payments,
    ledger,
    users: identityRepo,
    organizations: orgRepo,
    access,
    audit,
    mail,
    log,
    publicUrl: config.publicUrl,
    taxRates: config.taxRates,
  });
  const sales = createSaleService({ ledger, wallets, clock, escrowDays: config.money.escrowDays });
  const payouts = createPayoutService({
    db,
    repo: createPayoutRepository(db),
    ledger,
    wallets,
    notifications,
    access,
    jobs,
    outbox,
    provider: opts.payoutProvider ?? new SandboxPayoutProvider(),
    log,
    minimum: config.money.payoutMinimum,
    audit,
  });
  const payplayRepo = createPayplayRepository(db);
  // Partner platforms are told of ended sessions and answered consents by signed webhooks.
  const webhooks = createWebhookService({
    db,
    repo: createWebhookRepository(db),
    payplay: payplayRepo,
    access,
    audit,
    jobs,
    box: createWebhookSecretBox(config.authSecret),
    settings: { ...config.webhooks, allowPrivate: config.outbound.allowPrivate },
    log,
  });
  registerWebhookEvents(outbox, jobs, webhooks);
  const payplay = createPayplayService({
    db,
    repo: payplayRepo,
    webhookSecrets: (platformId, tx) => webhooks.issueSecret(platformId, tx),
    ledger,
    access,
    audit,
    notifications,
    jobs,
    clock,
    settings: config.payplay,
    publicUrl: config.publicUrl,
    log,
    // A finished session leaves one usage line in the user's wallet history.
    history: async (line, tx) => {
      await walletRepo.insertTransaction(
        {
          walletId: line.walletId,
          userId: line.userId,
          type: 'usage',
          direction: 'debit',
          amount: line.amount,
          currency: line.currency,
          status: 'completed',
          paymentMethod: 'wallet_balance',
          paymentProcessor: 'wallet',
          description: line.description,
          relatedId: line.sessionId,
          metadata: line.metadata,
          completedAt: line.completedAt,
        },
        tx,
      );
    },
  });

  // One storage for every module (disk by default, S3 by STORAGE_DRIVER): the media pipeline
  // writes originals and renditions, playback reads them through `mediaRepo` and `storage`.
  const storage = createStorage(config);
  const contentRepo = createContentRepository(database);
  const thumbnails = createThumbnailService({
    repo: contentRepo,
    storage,
    publicUrl: config.publicUrl,
    ttlSeconds: config.content.playbackUrlTtlSeconds,
  });
  const content = createContentService({ db, repo: contentRepo, access, thumbnails });
  const purchases = createPurchaseService({ db, repo: contentRepo, access, ledger, payments, notifications, jobs, log, config: config.content });
  const playback = createPlaybackService({
    repo: contentRepo,
    access,
    storage,
    secret: config.authSecret,
    publicUrl: config.publicUrl,
    ttlSeconds: config.content.playbackUrlTtlSeconds,
    thumbnails,
  });

  // Pay as Play's low-balance alert: once, when a debit crosses the user's threshold.
  outbox.subscribe('wallet.debited', 'notifications.low-balance', async ({ payload }) => {
    const wallet = await ledgerRepo.wallet(payload.walletId);
    if (!wallet?.userId) return;
    const threshold = await notifications.lowBalanceThreshold(wallet.userId);
    if (payload.previous >= threshold && payload.balance < threshold) {
      await notifications.notify({
        userId: wallet.userId,
        type: 'low_balance',
        title: 'Your wallet is running low',
        message: `Your ${wallet.currency} balance is ${formatMoney(payload.balance, wallet.currency)}, under your alert threshold of ${formatMoney(threshold, wallet.currency)}.`,
        actionUrl: `/v1/wallets/${wallet.currency}`,
        relatedId: wallet.id,
      });
    }
  });
  const mediaRepo = createMediaRepository(db);
  const uploads = createUploadStore(config.media.uploadDir);
  const media = createMediaService({ db, repo: mediaRepo, access, storage, jobs, notifications, log, publicUrl: config.publicUrl, media: config.media, usedBy: (id) => contentRepo.contentsUsingMedia(id) });
  jobs.register('media.transcode', async ({ mediaId }) => {
    await media.transcode(mediaId);
  });

  registerMailEvents(outbox, jobs, mail);
  jobs.register('ledger.release-holds', async () => {
    await ledger.releaseDueHolds(clock.now());
  });
  jobs.register('maintenance.cleanup', async () => {
    await purgeIdempotencyKeys(db);
    await purgeRateLimits(db);
    await outbox.purgeDispatched();
    await identityRepo.purgeExpired();
    await media.requeuePending();
    await uploads.purgeExpired();
    await webhooks.requeueStale();
  });

  return { database, db, outbox, jobs, access, audit, mail, auth, identity, organizations, apiKeys, ledgerRepo, ledger, sandbox: provider === sandbox ? sandbox : null, payments, wallets, sales, payouts, invoices, notifications, lms, payplay, webhooks, clock, storage, mediaRepo, media, uploads, contentRepo, content, purchases, playback, thumbnails };
}
export type Services = ReturnType<typeof createServices>;

export interface BuildOptions extends ServiceOptions {
  config: Config;
  database: Database;
  logger?: Logger;
  /** Where time comes from (tests and the metering bench pass a fake one). */
  clock?: Clock;
}

export interface App {
  app: FastifyInstance;
  services: Services;
  close(): Promise<void>;
}

export async function buildApp({ config, database, logger, ...opts }: BuildOptions): Promise<App> {
  const log = logger ?? createLogger(config.logLevel);
  const services = createServices(config, database, log, opts);
  const { identity, apiKeys } = services;

  const app = Fastify({
    // The cast fixes Fastify's logger type parameter to its base type, which the plugins expect.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: log as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    trustProxy: false,
    childLoggerFactory: requestLogger,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);

  // Declared up front, so every request object has the same shape from its construction (V8
  // keeps property access on it monomorphic) instead of growing the property in the hook below.
  app.decorateRequest('actor', null as unknown as never);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const meta: RequestMeta = { ip: req.ip, userAgent: req.headers['user-agent'] ?? null, requestId: String(req.id) };
    req.actor = anonymous(meta);
    const authz = req.headers.authorization;
    const bearer = authz?.toLowerCase().startsWith('bearer ') ? authz.slice(7).trim() : undefined;
    const headerKey = req.headers['x-api-key'];
    const key = typeof headerKey === 'string' ? headerKey : bearer?.startsWith(API_KEY_PREFIX) || bearer?.startsWith(PLATFORM_KEY_PREFIX) ? bearer : undefined;
    if (key?.startsWith(PLATFORM_KEY_PREFIX)) {
      req.actor = await services.payplay.authenticate(key, meta);
      return;
    }
    if (key !== undefined) {
      req.actor = await apiKeys.authenticate(key, meta);
      return;
    }
    const hasCookie = req.headers.cookie?.includes('session_token=') ?? false;
    if (!bearer && !hasCookie) return;
    // A browser session must not be usable from another site's form or script.
    if (hasCookie && !bearer && !['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      const origin = req.headers.origin;
      if (origin && !config.trustedOrigins.includes(origin)) {
        throw new AppError('forbidden', `Origin ${origin} is not trusted for cookie-authenticated requests`, { code: 'untrusted_origin' });
      }
    }
    const session = await identity.resolveSession({ cookie: req.headers.cookie, authorization: authz }, meta);
    if (!session) return;
    req.actor = session.actor;
    if (session.setCookie) reply.header('set-cookie', session.setCookie);
  });

  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    store: postgresRateLimitStore(services.db),
    errorResponseBuilder: (_req, ctx) =>
      new AppError('rate_limited', `Too many attempts; try again in ${Math.ceil(ctx.ttl / 1000)} seconds`, {
        retryAfterSeconds: Math.ceil(ctx.ttl / 1000),
      }),
  });
  installIdempotency(app, services.db);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Fanfare API', version, description: 'Creator commerce: identity, organizations and more.' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'fanfare.session_token' },
          bearer: { type: 'http', scheme: 'bearer', description: 'A session token from sign-in, or an organization API key' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
      security: [{ session: [] }, { bearer: [] }, { apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get(
    '/ready',
    {
      schema: {
        tags: ['platform'],
        summary: 'Database reachable and migrations current; says whether media is transcoded here',
        response: {
          200: z.object({
            status: z.literal('ready'),
            engine: z.string(),
            migrations: z.object({ applied: z.number(), expected: z.number() }),
            // Not a readiness condition: without ffmpeg the server runs and keeps uploads untranscoded.
            media: z.object({ transcoding: z.boolean(), detail: z.string().nullable() }),
          }),
        },
      },
    },
    async (_req, reply) => {
      let status;
      try {
        status = await migrationStatus(database);
      } catch {
        throw new AppError('unavailable', 'The database is not reachable');
      }
      if (!status.current) throw new AppError('unavailable', `Migrations are not current (${status.applied} of ${status.expected} applied)`);
      const tools = await services.media.tools();
      return reply.send({
        status: 'ready' as const,
        engine: database.engine,
        migrations: { applied: status.applied, expected: status.expected },
        media: { transcoding: tools.available, detail: tools.reason },
      });
    },
  );
  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fanfare ${version}</title></head>` +
          `<body style="font-family:system-ui;max-width:40rem;margin:4rem auto"><h1>Fanfare</h1>` +
          `<p>Open creator-commerce platform, version ${version}, running on ${database.engine === 'pglite' ? 'the embedded database' : 'PostgreSQL'}.</p>` +
          `<ul><li><a href="/docs">API documentation</a></li><li><a href="/docs/json">OpenAPI document</a></li>` +
          `<li><a href="/health">/health</a> and <a href="/ready">/ready</a></li></ul></body></html>`,
      ),
  );

  await app.register(identityRoutes(identity, { rateLimit: { max: config.authRateLimit.max, timeWindow: config.authRateLimit.windowMs } }));
  await app.register(organizationRoutes(services.organizations));
  await app.register(apiKeyRoutes(apiKeys));
  await app.register(auditRoutes(services.audit));
  await app.register(mailRoutes(services.mail));
  await app.register(paymentRoutes(services.payments, services.sandbox));
  await app.register(walletRoutes(services.wallets));
  await app.register(invoiceRoutes(services.invoices));
  await app.register(payoutRoutes(services.payouts));
  await app.register(notificationRoutes(services.notifications));
  await app.register(lmsRoutes(services.lms));
  await app.register(payplayRoutes(services.payplay));
  await app.register(webhookRoutes(services.webhooks));
  mountUploads(app, services.media, services.uploads, { uploadDir: config.media.uploadDir, publicUrl: config.publicUrl, log });
  await app.register(mediaRoutes(services.media, services.uploads));
  await app.register(contentRoutes(services.content, services.purchases, services.playback, services.thumbnails));

  await app.ready();
  return {
    app,
    services,
    async close() {
      await app.close();
      await services.payplay.stopTicker();
      await services.outbox.stop();
      await services.jobs.stop();
    },
  };
}
