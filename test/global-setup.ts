import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/core/logger.ts';
import { openDatabase } from '../src/db/client.ts';
import { runMigrations } from '../src/db/migrate.ts';
import pg from 'pg';

declare module 'vitest' {
  export interface ProvidedContext {
    /** PGlite: a tarball of a migrated data directory. */
    pgliteTemplate: string;
    /** Server: the name of a migrated template database. */
    serverTemplate: string;
  }
}

/**
 * Migrates one template database per run; every test file then starts from a copy of it
 * (PGlite: loadDataDir of a dump; server: CREATE DATABASE … TEMPLATE), which is far quicker than
 * migrating per file.
 */
export default async function setup(project: TestProject) {
  const config = loadConfig({ NODE_ENV: 'test', AUTH_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent', DATA_DIR: os.tmpdir() });
  const log = createLogger('silent');
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const name = `fanfare_tpl_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
    const tplUrl = new URL(url);
    tplUrl.pathname = `/${name}`;
    const database = openDatabase({ url: tplUrl.toString(), poolSize: 2 });
    await runMigrations(database);
    const services = createServices(config, database, log);
    await services.jobs.start();
    await services.jobs.stop();
    await database.close();
    project.provide('serverTemplate', name);
    project.provide('pgliteTemplate', '');
    return async () => {
      // Test files drop their own databases; the template goes last.
      const { rows } = await admin.query<{ datname: string }>(`select datname from pg_database where datname like 'fanfare_t_${process.pid}_%'`);
      for (const r of rows) await admin.query(`drop database if exists ${r.datname} with (force)`);
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  }
  const database = openDatabase({});
  await runMigrations(database);
  const services = createServices(config, database, log);
  await services.jobs.start();
  await services.jobs.stop();
  const dump = await database.pglite!.dumpDataDir('none');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-tpl-'));
  const file = path.join(dir, 'template.tar');
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  await database.close();
  project.provide('pgliteTemplate', file);
  project.provide('serverTemplate', '');
  return () => rmSync(dir, { recursive: true, force: true });
}
