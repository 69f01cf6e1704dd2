// End-to-end tests of the chat widget in real headless Chromium against a
// real wismo server (started here on a free port with a fresh data folder).
//
//   node e2e/widget.e2e.mjs ../target/debug/wismo
//
// Chromium: /usr/bin/chromium (Debian's package) or WISMO_TEST_CHROMIUM.
// Screenshots go to e2e/artifacts/. Exits non-zero on the first failure.
import { spawn, spawnSync } from 'node:child_process';
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

/** Creates an agent account with `wismo agents add` (password on stdin). */
function addAgent(dataDir, email, name, role = 'agent') {
  const r = spawnSync(binary, ['agents', 'add', '--email', email, '--name', name, '--role', role, '--data-dir', dataDir], {
    input: `${AGENT_PASSWORD}\n`,
    encoding: 'utf8',
  });
  if (r.status !== 0) fail(`wismo agents add failed: ${r.stderr}`);
}

const AGENT_PASSWORD = 'e2e-agent-password';
// What the supervisor's test writes and asks (made up for the test).
const GIFT_ARTICLE = '# Gift cards\n\nOur gift cards never expire and can be used on any order, online or in person.\n';
const GIFT_WORDS = 'never expire';
const GIFT_QUESTION = 'do your gift cards expire?';
const RETURN_QUESTION = 'how many days do I have to return something?';
const dataDir = mkdtempSync(join(tmpdir(), 'wismo-e2e-'));
// Admin commands never create a database: make it first.
{
  const r = spawnSync(binary, ['migrate', '--data-dir', dataDir], { encoding: 'utf8' });
  if (r.status !== 0) fail(`wismo migrate failed: ${r.stderr}`);
}
addAgent(dataDir, 'alice@example.com', 'Alice');
addAgent(dataDir, 'sam@example.com', 'Sam', 'supervisor');
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

test('the pages run under their Content-Security-Policy without violations', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const violations = [];
  for (const path of ['/', '/console', '/docs']) {
    const page = await ctx.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) violations.push(`${path}: ${m.text()}`);
    });
    page.on('pageerror', (e) => violations.push(`${path}: ${e.message}`));
    const res = await page.goto(`${base}${path}`);
    const csp = res.headers()['content-security-policy'] ?? '';
    if (!csp.includes("default-src 'self'") || !csp.includes("frame-ancestors 'none'")) fail(`${path}: CSP ${csp}`);
    if (path === '/') {
      // The shop's own button opens the widget (a hashed inline script).
      await page.getByRole('button', { name: /chat with us/i }).click();
      await waitForText(page, 'How can I help?');
    } else if (path === '/console') {
      await page.locator('input[type="password"]').waitFor({ timeout: 15_000 });
    } else {
      await page.waitForFunction(() => !document.getElementById('status'), null, { timeout: 15_000 });
    }
    await page.close();
  }
  if (violations.length) fail(`CSP violations: ${violations.join('; ')}`);
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

test('a shopper asks for a person, an agent takes over in a second browser, they talk both ways through a dropped connection, the agent resolves and the shopper rates', async () => {
  // The agent signs in to the console.
  const agentCtx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const agent = await agentCtx.newPage();
  const errors = [];
  agent.on('pageerror', (e) => errors.push(`console: ${e.message}`));
  await agent.goto(`${base}/console`);
  await agent.getByTestId('signin-email').fill('alice@example.com');
  await agent.getByTestId('signin-password').fill('not the password');
  await agent.getByTestId('signin-submit').click();
  await agent.getByTestId('signin-error').waitFor({ timeout: 15_000 });
  await agent.getByTestId('signin-password').fill(AGENT_PASSWORD);
  await agent.getByTestId('signin-submit').click();
  await agent.getByTestId('roster').waitFor({ timeout: 15_000 });
  await agent.waitForFunction(
    () => document.querySelector('[data-testid="roster"]')?.textContent?.includes('Alice'),
    null,
    { timeout: 15_000 },
  );

  // The shopper asks for a person; someone is online, so the wait is short.
  const shopCtx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const shop = await shopCtx.newPage();
  shop.on('pageerror', (e) => errors.push(`shop: ${e.message}`));
  await shop.goto(`${base}/`);
  await shop.getByRole('button', { name: /open chat/i }).click();
  await waitForText(shop, 'How can I help?');
  const box = shop.locator('wismo-widget textarea');
  await box.fill('I want to talk to a human');
  await box.press('Enter');
  await waitForText(shop, 'about a minute');
  // The banner says what the bot said: in the queue, with the wait.
  await waitForText(shop, 'in the queue for a person');
  if ((await widgetText(shop)).includes('No one from our team is online')) {
    fail('the shopper is told nobody is online while an agent is');
  }
  const stored = await shop.evaluate(() => JSON.parse(localStorage.getItem('wismo.conversation') ?? 'null'));
  if (!stored?.id) fail('no conversation in localStorage');

  // It appears in the agent's queue live; the agent accepts.
  const item = agent.locator(`[data-testid="queue-item"][data-conversation-id="${stored.id}"]`);
  await item.waitFor({ timeout: 15_000 });
  await agent.screenshot({ path: join(artifacts, 'console-queue.png') });
  await item.locator('button').first().click();
  await agent.getByTestId('accept').click();
  await waitForText(shop, 'Alice');
  await agent.getByTestId('composer-text').waitFor();

  // Both ways, in real time.
  await box.fill('Hi Alice, my parcel is late');
  await box.press('Enter');
  await agent.waitForFunction(
    () => document.querySelector('[data-testid="transcript"]')?.textContent?.includes('my parcel is late'),
    null,
    { timeout: 15_000 },
  );
  await agent.getByTestId('composer-text').fill("Sorry about that! I'm sending a replacement today.");
  await agent.getByTestId('composer-send').click();
  await waitForText(shop, "I'm sending a replacement today.");

  // An internal note never reaches the shopper.
  await agent.getByTestId('mode-note').check();
  await agent.getByTestId('composer-text').fill('Customer is a regular, upgrade shipping');
  await agent.getByTestId('composer-send').click();
  await agent.waitForFunction(
    () => document.querySelector('[data-testid="transcript"]')?.textContent?.includes('upgrade shipping'),
    null,
    { timeout: 15_000 },
  );
  await agent.getByTestId('mode-reply').check();

  // The shopper's connection drops: messages both ways while it is down.
  await shopCtx.setOffline(true);
  await shop.waitForTimeout(500);
  await box.fill('thank you so much');
  await box.press('Enter');
  await agent.getByTestId('composer-text').fill('The tracking number will follow by email.');
  await agent.getByTestId('composer-send').click();
  await shop.waitForTimeout(1000);
  await shopCtx.setOffline(false);
  await waitForText(shop, 'The tracking number will follow by email.', 30_000);
  await agent.waitForFunction(
    () => document.querySelector('[data-testid="transcript"]')?.textContent?.includes('thank you so much'),
    null,
    { timeout: 30_000 },
  );
  await shop.waitForTimeout(1000);
  const widget = await widgetText(shop);
  for (const m of ['thank you so much', 'The tracking number will follow by email.', "I'm sending a replacement today.", 'my parcel is late']) {
    if (count(widget, m) !== 1) fail(`"${m}" is shown ${count(widget, m)} times in the widget`);
  }
  if (widget.includes('upgrade shipping')) fail('the internal note reached the shopper');
  const agentText = await agent.locator('[data-testid="transcript"]').textContent();
  if (count(agentText, 'thank you so much') !== 1) fail('the agent sees the offline message other than once');
  await shop.screenshot({ path: join(artifacts, 'widget-agent-chat.png') });
  await agent.screenshot({ path: join(artifacts, 'console-conversation.png') });

  // The bot said nothing while Alice owned the conversation.
  let t = await transcript(base, shop);
  const joined = t.messages.findIndex((m) => m.role === 'system' && m.text.includes('Alice joined'));
  if (joined < 0) fail('no "Alice joined" in the transcript');
  const since = t.messages.slice(joined + 1);
  if (since.some((m) => m.role === 'bot')) fail(`the bot spoke over the agent: ${JSON.stringify(since.filter((m) => m.role === 'bot'))}`);
  const users = since.filter((m) => m.role === 'user').map((m) => m.text);
  if (JSON.stringify(users) !== JSON.stringify(['Hi Alice, my parcel is late', 'thank you so much'])) fail(`user messages: ${JSON.stringify(users)}`);
  const agents = since.filter((m) => m.role === 'agent').length;
  if (agents !== 2) fail(`${agents} agent messages stored, expected 2`);

  // Resolve; the shopper rates it.
  await agent.getByTestId('resolve').click();
  await agent.getByTestId('resolve-outcome').selectOption('replaced');
  await agent.getByTestId('resolve-submit').click();
  await shop.locator('[data-testid="csat"]').waitFor({ timeout: 15_000 });
  await shop.screenshot({ path: join(artifacts, 'widget-csat.png') });
  await shop.locator('[data-testid="csat-score-5"]').click();
  await shop.locator('[data-testid="csat-submit"]').click();
  await shop.locator('[data-testid="csat-thanks"]').waitFor({ timeout: 15_000 });
  t = await transcript(base, shop);
  if (t.csat?.score !== 5) fail(`stored rating: ${JSON.stringify(t.csat)}`);
  if (t.handoff?.status !== 'resolved') fail(`hand-off status ${t.handoff?.status}`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  await agentCtx.close();
  await shopCtx.close();
});

test('a supervisor edits a knowledge article and adds one in the console, previews, publishes, and the widget answers with them', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`console: ${e.message}`));
  await page.goto(`${base}/console`);
  await page.getByTestId('signin-email').fill('sam@example.com');
  await page.getByTestId('signin-password').fill(AGENT_PASSWORD);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('store-toggle').click();
  await page.getByTestId('store-editor').waitFor({ timeout: 15_000 });
  await page.waitForFunction(() => /version \d+/.test(document.querySelector('[data-testid="store-version"]')?.textContent ?? ''), null, {
    timeout: 15_000,
  });
  const before = await page.getByTestId('store-version').textContent();

  // The English article that answers returns states the profile's window
  // ({store.policy.return_window_days} days): the supervisor writes 45 days.
  const WINDOW = '{store.policy.return_window_days} days';
  const files = page.locator('[data-testid="article-list"] [data-testid="store-file"]');
  let returns = null;
  for (const path of await files.evaluateAll((els) => els.map((e) => e.dataset.path))) {
    if (!path.startsWith('knowledge/en/')) continue;
    await page.locator(`[data-testid="store-file"][data-path="${path}"]`).click();
    const text = await page.getByTestId('file-text').inputValue();
    if (text.includes(WINDOW)) {
      returns = path;
      await page.getByTestId('file-text').fill(text.replaceAll(WINDOW, '45 days'));
      break;
    }
  }
  if (!returns) fail(`no English article says "${WINDOW}"`);
  // And a new article.
  await page.getByTestId('article-new-path').fill('knowledge/en/gift-cards.md');
  await page.getByTestId('article-add').click();
  await page.getByTestId('file-text').fill(GIFT_ARTICLE);

  // The preview answers with the draft; nothing is live yet.
  await page.getByTestId('preview-question').fill(RETURN_QUESTION);
  await page.getByTestId('preview').click();
  await page.getByTestId('preview-answer').waitFor({ timeout: 30_000 });
  const previewed = await page.getByTestId('preview-answer').textContent();
  if (!previewed.includes('45 days')) fail(`the preview does not say 45 days: ${previewed}`);
  await page.getByTestId('preview-question').fill(GIFT_QUESTION);
  await page.getByTestId('preview').click();
  await page.waitForFunction((n) => (document.querySelector('[data-testid="preview-answer"]')?.textContent ?? '').includes(n), GIFT_WORDS, {
    timeout: 30_000,
  });
  await page.screenshot({ path: join(artifacts, 'console-store-preview.png') });

  // Publish: a new version, the draft cleared.
  await page.getByTestId('publish-message').fill('gift cards; 45-day returns');
  await page.getByTestId('publish').click();
  await page.getByTestId('publish-notice').waitFor({ timeout: 30_000 });
  const notice = await page.getByTestId('publish-notice').textContent();
  if (!/Published version \d+/.test(notice)) fail(`publish said: ${notice}`);
  await page.waitForFunction((b) => document.querySelector('[data-testid="store-version"]')?.textContent !== b, before, { timeout: 15_000 });
  const after = await page.getByTestId('store-version').textContent();
  if (!after.includes('by ') || !after.includes('gift cards; 45-day returns')) fail(`live version: ${after}`);
  if ((await page.getByTestId('draft-summary').textContent()) !== 'No changes yet.') fail('the draft was not cleared');

  // The shopper's bot answers with the published version.
  const shopCtx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const shop = await shopCtx.newPage();
  shop.on('pageerror', (e) => errors.push(`shop: ${e.message}`));
  await shop.goto(`${base}/`);
  await shop.getByRole('button', { name: /open chat/i }).click();
  await waitForText(shop, 'How can I help?');
  const box = shop.locator('wismo-widget textarea');
  await box.fill(GIFT_QUESTION);
  await box.press('Enter');
  await waitForText(shop, GIFT_WORDS, 30_000);
  await box.fill(RETURN_QUESTION);
  await box.press('Enter');
  await waitForText(shop, '45 days', 30_000);
  await shop.screenshot({ path: join(artifacts, 'widget-after-publish.png') });
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  await shopCtx.close();
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
