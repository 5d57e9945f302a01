import path from 'node:path';
import { parseArgs } from 'node:util';
import { reconcile } from './modules/ledger/index.ts';
import { buildApp, createServices, version, type Services } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './core/logger.ts';
import { openDatabase, type Database } from './db/client.ts';
import { runMigrations } from './db/migrate.ts';
import { DEMO_PASSWORD, demoAccounts, seedDemoData } from './seed.ts';

const usage = `fanfare ${version}

usage: fanfare <command> [options]

commands:
  serve          start the HTTP server (and, unless WORKER_IN_PROCESS=false, the worker)
  worker         run only the background worker (jobs and outbox)
  migrate        apply database migrations and exit
  seed           add the demo data (once) and print the demo accounts
  reconcile      check every money invariant; exits 1 with a report naming what is wrong
  create-admin   create or promote an operator account
                   --email <e-mail> --name <name> [--password <password>]
                   (the password may also come from FANFARE_ADMIN_PASSWORD)

Configuration comes from the environment; see README.md.`;

function open(config: Config): Database {
  return openDatabase({ url: config.databaseUrl, dataDir: path.join(config.dataDir, 'pglite'), poolSize: config.databasePoolSize });
}

function describe(config: Config): string {
  return config.databaseUrl ? `PostgreSQL at ${new URL(config.databaseUrl).host}` : `embedded PGlite in ${path.join(config.dataDir, 'pglite')}`;
}

function printDemoAccounts(): void {
  console.log('\nDemo accounts (password for each: %s):', DEMO_PASSWORD);
  for (const a of demoAccounts) console.log(`  ${a.role.padEnd(9)} ${a.email}`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return command ? 0 : 1;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  switch (command) {
    case 'serve': {
      const database = open(config);
      await runMigrations(database);
      const built = await buildApp({ config, database, logger: log });
      const { app, services } = built;
      await services.jobs.start();
      let seeded = false;
      if (config.seedDemoData) seeded = (await seedDemoData(services)).created;
      if (config.workerInProcess) await startWorker(services);
      await app.listen({ host: config.host, port: config.port });
      console.log(`\nFanfare ${version} is running on ${describe(config)}`);
      console.log(`  API and home page: ${config.publicUrl}/`);
      console.log(`  API documentation: ${config.publicUrl}/docs`);
      if (seeded) printDemoAccounts();
      if (!config.workerInProcess) console.log('  (worker not in process: run `fanfare worker` too)');
      await waitForSignal();
      await built.close();
      await database.close();
      return 0;
    }
    case 'worker': {
      if (!config.databaseUrl) {
        console.error('fanfare worker runs beside the server and needs DATABASE_URL: the embedded database serves one process,\nand `fanfare serve` already runs the worker in process.');
        return 2;
      }
      const database = open(config);
      const services = createServices(config, database, log);
      await startWorker(services);
      console.log(`Fanfare worker running on ${describe(config)}`);
      await waitForSignal();
      await services.payplay.stopTicker();
      await services.outbox.stop();
      await services.jobs.stop();
      await database.close();
      return 0;
    }
    case 'migrate': {
      const database = open(config);
      await runMigrations(database);
      const services = createServices(config, database, log);
      await services.jobs.start();
      await services.jobs.stop();
      await database.close();
      console.log(`Migrations applied on ${describe(config)}`);
      return 0;
    }
    case 'reconcile': {
      const database = open(config);
      const services = createServices(config, database, log);
      const report = await reconcile(services.ledgerRepo, [...services.payments.invariants(), ...services.invoices.invariants(), ...services.payouts.invariants()]);
      for (const c of report.checks) {
        console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}`);
        for (const p of c.problems) console.log(`     ${p}`);
      }
      console.log(report.ok ? 'reconcile: every invariant holds' : 'reconcile: invariants violated');
      await database.close();
      return report.ok ? 0 : 1;
    }
    case 'seed': {
      const database = open(config);
      await runMigrations(database);
      const services = createServices(config, database, log);
      const { created } = await seedDemoData(services);
      console.log(created ? 'Demo data added.' : 'Demo data was already there.');
      printDemoAccounts();
      await database.close();
      return 0;
    }
    case 'create-admin': {
      const { values } = parseArgs({
        args: rest,
        options: { email: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' } },
      });
      const password = values.password ?? process.env.FANFARE_ADMIN_PASSWORD;
      const problems = [
        !values.email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(values.email) ? '--email must be an e-mail address' : null,
        !values.name ? '--name is required' : null,
        !password || password.length < 10 ? '--password (or FANFARE_ADMIN_PASSWORD) must be at least 10 characters' : null,
      ].filter(Boolean);
      if (problems.length) {
        console.error(problems.join('\n'));
        return 2;
      }
      const database = open(config);
      await runMigrations(database);
      const services = createServices(config, database, log);
      const { user, created } = await services.identity.createAdmin({ email: values.email!, name: values.name!, password: password! });
      console.log(created ? `Operator ${user.email} created.` : `${user.email} existed and is now an operator.`);
      await database.close();
      return 0;
    }
    default:
      console.error(`unknown command: ${command}\n\n${usage}`);
      return 2;
  }
}

/** The worker: job handlers, the outbox dispatcher and the hourly maintenance schedule. */
async function startWorker(services: Services): Promise<void> {
  await services.jobs.start();
  await services.jobs.schedule('maintenance.cleanup', '17 * * * *', {});
  await services.jobs.schedule('ledger.release-holds', '* * * * *', {});
  // Pay as Play: the in-process ticker bills due sessions every PAYPLAY_TICK_INTERVAL_MS; the
  // minute job is the fallback of a worker whose ticker is not running; settlement after midnight UTC.
  await services.jobs.schedule('payplay.tick', '* * * * *', {});
  await services.jobs.schedule('payplay.settlement', '5 0 * * *', {});
  await services.jobs.schedule('content.expire-checkouts', '*/15 * * * *', {});
  await services.jobs.work();
  services.outbox.start();
  services.payplay.startTicker();
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
