// End-to-end tests of the chat widget in real headless Chromium against a
// real wismo server (started here on a free port with a fresh data folder).
//
//   node e2e/widget.e2e.mjs ../target/debug/wismo
//
// Chromium: /usr/bin/chromium (Debian's package) or WISMO_TEST_CHROMIUM.
// Screenshots go to e2e/artifacts/. Exits non-zero on the first failure.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const binary = process.argv[2];
if (!binary) {
  console.error('usage: node e2e/widget.e2e.mjs PATH/TO/wismo');
  process.exit(2);
}

function fail(message) {
  throw new Error(message);
}

/** Starts `wismo serve` on port 0 and resolves with its base URL. */
function startServer(dataDir) {
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--now', '2026-11-24T12:00:00Z'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server not ready within 120 s')), 120_000);
    child.on('exit', (code) => reject(new Error(`server exited early (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/ready in \d+ ms on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: m[1] });
      }
    });
  });
}

/** The widget's rendered text (inside its shadow root). */
const widgetText = (page) =>
  page.evaluate(() => document.querySelector('wismo-widget')?.shadowRoot?.textContent ?? '');

async function waitForText(page, needle, timeout = 15_000) {
  await page.waitForFunction(
    (n) => (document.querySelector('wismo-widget')?.shadowRoot?.textContent ?? '').includes(n),
    needle,
    { timeout },
  );
}

const count = (haystack, needle) => haystack.split(needle).length - 1;

async function transcript(base, page) {
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('wismo.conversation') ?? 'null'));
  if (!stored?.id || !stored?.token) fail('no conversation kept in localStorage');
  const res = await fetch(`${base}/v1/conversations/${stored.id}`, {
    headers: { authorization: `Bearer ${stored.token}` },
  });
  if (res.status !== 200) fail(`transcript: HTTP ${res.status}`);
  return res.json();
}

const dataDir = mkdtempSync(join(tmpdir(), 'wismo-e2e-'));
const { child, base } = await startServer(dataDir);
const browser = await chromium.launch({
  executablePath: process.env.WISMO_TEST_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('a shopper asks where order #1001 is and gets the verified answer', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: /open chat/i }).click();
  await waitForText(page, 'How can I help?');
  const box = page.locator('wismo-widget textarea');
  await box.fill('where is my order #1001?');
  await box.press('Enter');
  await waitForText(page, 'email address');
  const asked = await widgetText(page);
  if (asked.includes('Merino')) fail('order details shown before verification');
  await box.fill('emma.johnson@example.com');
  await box.press('Enter');
  await waitForText(page, 'was delivered');
  const text = await widgetText(page);
  if (!text.includes('Merino Wool Sweater')) fail('the order card lacks the items');
  if (count(text, 'where is my order #1001?') !== 1) fail('the shopper message is shown more than once');
  await page.screenshot({ path: join(artifacts, 'widget-verified-answer.png') });
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  await ctx.close();
});

test('a message sent while the connection is down arrives once when it is back', async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 780 } });
  const page = await ctx.newPage();
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: /open chat/i }).click();
  await waitForText(page, 'How can I help?');
  const box = page.locator('wismo-widget textarea');
  await box.fill('hi there');
  await box.press('Enter');
  await page.waitForFunction(() => (document.querySelector('wismo-widget')?.shadowRoot?.textContent ?? '').split('hi there').length - 1 === 1);
  await ctx.setOffline(true);
  await page.waitForTimeout(500);
  await box.fill('do you ship to canada');
  await box.press('Enter');
  await page.waitForTimeout(1000);
  await page.screenshot({ path: join(artifacts, 'widget-offline.png') });
  await ctx.setOffline(false);
  await waitForText(page, 'Canada', 30_000);
  await page.waitForTimeout(1500);
  const text = await widgetText(page);
  if (count(text, 'do you ship to canada') !== 1) fail('the message sent offline is not shown exactly once');
  const t = await transcript(base, page);
  const users = t.messages.filter((m) => m.role === 'user').map((m) => m.text);
  if (JSON.stringify(users) !== JSON.stringify(['hi there', 'do you ship to canada'])) {
    fail(`stored user messages: ${JSON.stringify(users)}`);
  }
  // A reload resumes the same conversation without duplicates.
  await page.reload();
  await page.getByRole('button', { name: /open chat/i }).click();
  await waitForText(page, 'do you ship to canada');
  await page.waitForTimeout(500);
  const again = await widgetText(page);
  if (count(again, 'do you ship to canada') !== 1) fail('duplicates after a reload');
  await page.screenshot({ path: join(artifacts, 'widget-phone-after-reload.png') });
  await ctx.close();
});

try {
  for (const t of tests) {
    try {
      await t.fn();
      console.log(`ok   ${t.name}`);
    } catch (e) {
      failed = true;
      console.log(`FAIL ${t.name}: ${e.message}`);
    }
  }
} finally {
  await browser.close();
  child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
