// What the browser tests share: the gateway under test (started, killed and restarted here),
// Debian's Chromium through playwright-core, SQL through psql, and HS256 tokens.
import { execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const OUTPUT = join(ROOT, 'tests', 'browser', 'output');
export const PGPULSE = process.env.PGPULSE_BIN || join(ROOT, 'build', 'pgpulse');
export const DB = process.env.PGPULSE_TEST_DB;
if (!DB) throw new Error('PGPULSE_TEST_DB is not set: run the tests through tests/browser/run.sh');
mkdirSync(OUTPUT, { recursive: true });

const execFileAsync = promisify(execFile);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `build/pgpulse serve --demo` on a port of its own; its log goes to output/gateway-NAME.log. */
export class Gateway {
  constructor(name, extraArgs = []) {
    this.name = name;
    this.extraArgs = extraArgs;
    this.port = null;
    this.process = null;
    this.log = createWriteStream(join(OUTPUT, `gateway-${name}.log`));
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    const args = ['serve', '--db', DB, '--listen', `127.0.0.1:${this.port}`, '--demo', ...this.extraArgs];
    this.log.write(`--- start: pgpulse ${args.join(' ')}\n`);
    const child = spawn(PGPULSE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    this.process = child;
    const exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ error: error.message }));
    });
    this.exited = exited;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const early = await Promise.race([exited, sleep(50).then(() => null)]);
      if (early) throw new Error(`pgpulse serve exited (${JSON.stringify(early)}); see output/gateway-${this.name}.log`);
      try {
        const health = await (await fetch(`${this.base}/healthz`)).json();
        if (health.database === 'connected') return;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`pgpulse serve did not become healthy on ${this.base}`);
    }
  }

  /** Kills the process (SIGKILL by default: no goodbye to anyone) and waits until it is gone. */
  async kill(signal = 'SIGKILL') {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.log.write(`--- kill ${signal}\n`);
    this.process.kill(signal);
    await this.exited;
  }

  async stop() {
    await this.kill('SIGTERM');
    this.log.end();
  }
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Collects a page's console errors and uncaught exceptions. */
export function watchConsole(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

/** Runs SQL with psql against the test database; returns its unaligned output. */
export async function sql(statement) {
  const { stdout } = await execFileAsync('psql', [DB, '-X', '-v', 'ON_ERROR_STOP=1', '-qAtc', statement]);
  return stdout.trim();
}

/** Runs a psql script (each statement its own transaction); resolves when all have run. */
export function sqlScript(script) {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', [DB, '-X', '-v', 'ON_ERROR_STOP=1', '-qAt', '-f', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}: ${stderr}`))));
    child.stdin.end(script);
  });
}

/** The demo write API. */
export async function api(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

const b64url = (value) => Buffer.from(value).toString('base64url');

/** An HS256 JWT, signed with node:crypto. */
export function signJwt(claims, secret) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Opens the chat page and waits until it is live. */
export async function openChat(browser, base, { room, name, token, viewport = DESKTOP, init } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  const errors = watchConsole(page);
  const query = new URLSearchParams({ room: String(room), name });
  if (token) query.set('token', token);
  await page.goto(`${base}/?${query}`);
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
  return { context, page, errors };
}

/** The texts of the messages a chat page shows, in order. */
export function messageBodies(page) {
  return page.locator('#messages .message .body').allTextContents();
}

/** Waits until `predicate()` holds (polling), or fails with `what`. */
export async function eventually(predicate, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await predicate();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
