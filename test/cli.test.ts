import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The CLI as an operator runs it: a separate process on a throwaway data directory, or on a
// scratch database of the server when the suite runs against one.
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-cli-'));
const bin = path.resolve('bin/fanfare.js');
const serverUrl = process.env.TEST_DATABASE_URL;
let scratchUrl: string | undefined;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  if (scratchUrl) base.DATABASE_URL = scratchUrl;
  return { ...base, ...extra };
}

function run(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { env: env(extra), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

if (serverUrl) {
  const name = `fanfare_cli_${process.pid}`;
  spawnSync('psql', [serverUrl, '-qc', `drop database if exists ${name}`, '-c', `create database ${name}`]);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  scratchUrl = u.toString();
}

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  if (serverUrl && scratchUrl) spawnSync('psql', [serverUrl, '-qc', `drop database if exists ${new URL(scratchUrl).pathname.slice(1)} with (force)`]);
});

// Each command is a fresh process that loads the code and opens the database: slow on a busy machine.
describe('fanfare CLI', { timeout: 120_000 }, () => {
  it('prints usage and refuses an unknown command', () => {
    expect(run(['--help']).out).toContain('create-admin');
    const r = run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command: frobnicate');
  });

  it('stops on bad configuration, naming every bad variable', () => {
    const r = run(['migrate'], { PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('PORT');
    expect(r.err).toContain('DATABASE_URL');
    expect(r.err).toContain('LOG_LEVEL');
  });

  it('migrates, seeds demo data once, and creates an operator', () => {
    const m = run(['migrate']);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toContain('Migrations applied');

    const s1 = run(['seed']);
    expect(s1.code, s1.err).toBe(0);
    expect(s1.out).toContain('Demo data added.');
    expect(s1.out).toContain('operator@fanfare.local');
    expect(run(['seed']).out).toContain('Demo data was already there.');

    const bad = run(['create-admin', '--email', 'not-an-email', '--name', 'X', '--password', 'short']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--email');
    expect(bad.err).toContain('--password');

    const ok = run(['create-admin', '--email', 'Root@Example.com', '--name', 'Root'], { FANFARE_ADMIN_PASSWORD: 'a-long-password-1' });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('Operator root@example.com created.');
    expect(run(['create-admin', '--email', 'customer@fanfare.local', '--name', 'C', '--password', 'whatever-1234']).out).toContain(
      'customer@fanfare.local existed and is now an operator.',
    );
  });

  it('serves: health, readiness and a sign-in with the operator made above', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [bin, 'serve'], { env: env({ PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 45_000;
      for (;;) {
        const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`server did not start: ${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(output).toContain(`/docs`);
      const ready = await fetch(`${base}/ready`);
      expect(ready.status).toBe(200);
      const signIn = await fetch(`${base}/v1/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'root@example.com', password: 'a-long-password-1' }),
      });
      expect(signIn.status).toBe(200);
      const { user } = (await signIn.json()) as { user: { role: string } };
      expect(user.role).toBe('admin');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
