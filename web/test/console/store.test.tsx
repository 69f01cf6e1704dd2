import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alerts } from '../../src/console/alerts';
import { mountConsole, type MountedConsole } from '../../src/console/mount';
import { draftChanges } from '../../src/console/ui/StoreEditor';
import { readNumber, readText, setRaw, writeText } from '../../src/console/tomlEdit';
import { MemoryStorage, settle, type Call } from '../helpers';
import { ALICE, EventSources, consoleServer } from './fakes';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let mounted: MountedConsole | null = null;
afterEach(() => {
  const m = mounted;
  mounted = null;
  if (m) act(() => m.unmount());
  document.body.innerHTML = '';
});

const noAlerts: Alerts = { play() {}, unlock() {}, permission: () => 'default', request: async () => 'default', show() {} };

const TOML = `# the profile
name = "our store"
languages = ["en", "es"]

[policy]
return_window_days = 30 # days
late_after_days = 3
# free_shipping_threshold = 50

[widget]
title = "Help"
greeting = { en = "Hi! Ask me.", es = "¡Hola!" }

[widget.colours]
primary = "#1f6feb"
`;

const FILES = {
  'store.toml': TOML,
  'knowledge/en/shipping.md': '# Shipping\n\nWe ship in 2 days.\n',
  'knowledge/es/envios.md': '# Envíos\n\nEnviamos en 2 días.\n',
  'flows.yml': 'flows: []\n',
};

const ACTIVE = {
  id: 4,
  hash: '9f2c1a3b5d7e9f00112233',
  created_at: '2026-11-24T12:00:00Z',
  created_by: 'a_9',
  created_by_kind: 'agent',
  message: 'summer hours',
  changes: ['~store.toml'],
  warnings: [],
  languages: ['en', 'es'],
};

type Answer = { status: number; body?: unknown } | undefined;

async function setup(role: 'agent' | 'supervisor', store?: (call: Call) => Answer) {
  const me = { ...ALICE, role };
  const srv = consoleServer({ signedIn: true }, (call) => {
    const path = new URL(call.url, 'http://console.test').pathname;
    if (call.method === 'GET' && path === '/v1/agent/me') return { status: 200, body: me };
    if (path.startsWith('/v1/admin/store')) {
      if (role !== 'supervisor') return { status: 403, body: { code: 'forbidden' } };
      const o = store?.(call);
      if (o) return o;
      if (path === '/v1/admin/store') return { status: 200, body: { active: ACTIVE, loaded: {}, store_dir: false } };
      if (path === '/v1/admin/store/files') return { status: 200, body: { version: 4, hash: ACTIVE.hash, files: FILES, defaults: {} } };
    }
    return undefined;
  });
  const root = document.createElement('div');
  document.body.appendChild(root);
  await act(async () => {
    mounted = mountConsole(
      root,
      { fetch: srv.fetch, createEventSource: new EventSources().factory, alerts: noAlerts, storage: new MemoryStorage(), now: () => 5_000_000, pageActive: () => true },
      () => 5_000_000,
    );
    await settle();
  });
  const $ = <T extends Element = HTMLElement>(sel: string) => root.querySelector(sel) as T | null;
  const $$ = (sel: string) => Array.from(root.querySelectorAll(sel)) as HTMLElement[];
  const click = (el: Element | null) =>
    act(async () => {
      if (!el) throw new Error('nothing to click');
      (el as HTMLElement).click();
      await settle();
    });
  const input = (el: Element | null, value: string) =>
    act(async () => {
      if (!el) throw new Error('nothing to type in');
      const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
      el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
      await settle();
    });
  const submit = (el: Element | null) =>
    act(async () => {
      (el as HTMLFormElement).requestSubmit();
      await settle();
    });
  return { root, srv, $, $$, click, input, submit };
}

async function openStore(store?: (call: Call) => Answer) {
  const t = await setup('supervisor', store);
  await t.click(t.$('[data-testid="store-toggle"]'));
  return t;
}

const storeCalls = (calls: Call[], path: string) => calls.filter((c) => new URL(c.url, 'http://x').pathname === path);

describe('the store section', () => {
  it('is not there for an agent, and the console never asks for the store', async () => {
    const { $, root, srv } = await setup('agent');
    expect($('[data-testid="queue-item"], [data-testid="sign-out"]')).not.toBeNull();
    expect($('[data-testid="store-toggle"]')).toBeNull();
    expect($('[data-testid="store-editor"]')).toBeNull();
    expect(root.textContent).not.toContain('Store profile');
    expect(srv.calls.some((c) => c.url.includes('/v1/admin/store'))).toBe(false);
  });

  it('shows a supervisor the live version, the profile and the articles', async () => {
    const { $, $$, root } = await openStore();
    expect($('[data-testid="store-toggle"]')!.textContent).toBe('Back to cases');
    const version = $('[data-testid="store-version"]')!.textContent!;
    expect(version).toContain('version 4');
    expect(version).toContain('9f2c1a3b5d');
    expect(version).toContain('by a_9');
    expect(version).toContain('summer hours');
    expect($$('[data-testid="article-list"] [data-testid="store-file"]').map((b) => b.dataset.path)).toEqual([
      'knowledge/en/shipping.md',
      'knowledge/es/envios.md',
    ]);
    expect($<HTMLInputElement>('[data-testid="profile-return-days"]')!.value).toBe('30');
    expect($<HTMLInputElement>('[data-testid="profile-late-days"]')!.value).toBe('3');
    expect($<HTMLInputElement>('[data-testid="profile-greeting-en"]')!.value).toBe('Hi! Ask me.');
    expect($<HTMLInputElement>('[data-testid="profile-colour"]')!.value).toBe('#1f6feb');
    expect(root.querySelector('label[for="profile-return-days"]')!.textContent).toContain('Return window');
    expect($('[data-testid="draft-summary"]')!.textContent).toBe('No changes yet.');
    expect($<HTMLButtonElement>('[data-testid="publish"]')!.disabled).toBe(true);
  });

  it('edits an article and the profile, and previews with every changed file', async () => {
    let previewBody: any = null;
    const { $, click, input, submit } = await openStore((call) => {
      if (call.url.endsWith('/preview')) {
        previewBody = call.body;
        return { status: 200, body: { messages: [{ text: 'We ship in 1 day.', template: 'kb' }], intent: { name: 'shipping_time', confidence: 0.91 }, warnings: [] } };
      }
      return undefined;
    });
    await click($('[data-testid="store-file"][data-path="knowledge/en/shipping.md"]'));
    expect($<HTMLTextAreaElement>('[data-testid="file-text"]')!.value).toContain('We ship in 2 days.');
    await input($('[data-testid="file-text"]'), '# Shipping\n\nWe ship in 1 day.\n');
    await click($('[data-testid="store-file"][data-path="store.toml"]'));
    await input($('[data-testid="profile-return-days"]'), '45');
    await input($('[data-testid="profile-colour"]'), '#ff0000');
    await input($('[data-testid="profile-greeting-es"]'), '¡Hola, "amigo"!');
    expect($('[data-testid="draft-summary"]')!.textContent).toBe('Changed: ~knowledge/en/shipping.md, ~store.toml');
    const toml = $<HTMLTextAreaElement>('[data-testid="file-text"]')!.value;
    expect(toml).toContain('return_window_days = 45 # days');
    expect(toml).toContain('primary = "#ff0000"');
    expect(toml).toContain('greeting = { en = "Hi! Ask me.", es = "¡Hola, \\"amigo\\"!" }');
    expect(toml).toContain('# the profile');

    await input($('[data-testid="preview-question"]'), 'how long does shipping take?');
    await input($('[data-testid="preview-locale"]'), 'en');
    await submit($('[data-testid="preview"]')!.closest('form'));
    expect(previewBody.question).toBe('how long does shipping take?');
    expect(previewBody.locale).toBe('en');
    expect(Object.keys(previewBody.files).sort()).toEqual(['knowledge/en/shipping.md', 'store.toml']);
    expect(previewBody.files['knowledge/en/shipping.md']).toBe('# Shipping\n\nWe ship in 1 day.\n');
    expect(previewBody.files['store.toml']).toBe(toml);
    const answer = $('[data-testid="preview-answer"]')!.textContent!;
    expect(answer).toContain('We ship in 1 day.');
    expect(answer).toContain('shipping_time (91%)');
  });

  it('adds an article only with a good name, and deletes one', async () => {
    const { $, $$, click, input, submit } = await openStore();
    const form = $('[data-testid="article-add"]')!.closest('form');
    await input($('[data-testid="article-new-path"]'), 'gift cards.md');
    await submit(form);
    expect($('[data-testid="article-new-error"]')!.textContent).toContain('knowledge/<language>/<name>.md');
    expect($('[data-testid="article-new-path"]')!.getAttribute('aria-invalid')).toBe('true');
    await input($('[data-testid="article-new-path"]'), 'knowledge/fr/cartes.md');
    await submit(form);
    expect($('[data-testid="article-new-error"]')!.textContent).toContain('"fr" is not one of them');
    await input($('[data-testid="article-new-path"]'), 'knowledge/en/shipping.md');
    await submit(form);
    expect($('[data-testid="article-new-error"]')!.textContent).toContain('already exists');
    await input($('[data-testid="article-new-path"]'), 'knowledge/en/gift-cards.md');
    await submit(form);
    expect($('[data-testid="article-new-error"]')).toBeNull();
    expect($('[data-testid="store-file"][data-path="knowledge/en/gift-cards.md"]')!.textContent).toBe('en/gift-cards.md · new');
    expect($$('[data-testid="article-list"] [data-testid="store-file"]').map((b) => b.dataset.path)).toContain('knowledge/en/gift-cards.md');
    expect($<HTMLTextAreaElement>('[data-testid="file-text"]')!.value).toBe('# gift cards\n\n');

    await click($('[data-testid="store-file"][data-path="knowledge/es/envios.md"]'));
    await click($('[data-testid="article-delete"]'));
    expect($('[data-testid="file-deleted"]')!.textContent).toContain('knowledge/es/envios.md will be deleted');
    expect($('[data-testid="draft-summary"]')!.textContent).toBe('Changed: +knowledge/en/gift-cards.md, -knowledge/es/envios.md');
  });

  it('shows each error of a refused draft as file:line: message next to its file, and keeps the draft', async () => {
    const { $, click, input } = await openStore((call) =>
      call.url.endsWith('/publish')
        ? {
            status: 422,
            body: {
              code: 'workspace_invalid',
              title: 'Store workspace invalid',
              errors: [
                { file: 'store.toml', line: 6, message: 'invalid number', severity: 'error', text: 'store.toml:6: invalid number' },
                { file: 'templates/en.yml', line: 2, message: 'unknown placeholder', severity: 'error', text: 'x' },
              ],
            },
          }
        : undefined,
    );
    await input($('[data-testid="profile-return-days"]'), '4x');
    expect($('#profile-return-days-error')!.textContent).toBe('A number of 0 or more.');
    await click($('[data-testid="publish"]'));
    expect($('[data-testid="publish-error"]')!.textContent).toContain('Not published: 2 problem(s)');
    expect($('[data-testid="file-problems"][data-path="store.toml"]')!.textContent).toBe('store.toml:6: invalid number');
    expect($('[data-testid="store-file"][data-path="store.toml"]')!.textContent).toContain('1 error');
    expect($('[data-testid="file-problems"][data-path=""]')!.textContent).toBe('templates/en.yml:2: unknown placeholder');
    expect($('[data-testid="draft-summary"]')!.textContent).toBe('Changed: ~store.toml');
  });

  it('publishes with the message, shows the new version and clears the draft', async () => {
    let publishBody: any = null;
    let active = ACTIVE;
    const { $, srv, click, input } = await openStore((call) => {
      if (call.url.endsWith('/publish')) {
        publishBody = call.body;
        active = { ...ACTIVE, id: 5, hash: 'abcdef0123456789', message: call.body.message };
        return { status: 200, body: { version: 5, new: true, build_ms: 40, retrained: false, changes: ['~knowledge/en/shipping.md'], warnings: [] } };
      }
      if (new URL(call.url, 'http://x').pathname === '/v1/admin/store') return { status: 200, body: { active, loaded: {}, store_dir: false } };
      return undefined;
    });
    await click($('[data-testid="store-file"][data-path="knowledge/en/shipping.md"]'));
    await input($('[data-testid="file-text"]'), 'We ship in 1 day.');
    await input($('[data-testid="publish-message"]'), 'faster shipping');
    await click($('[data-testid="publish"]'));
    expect(publishBody).toEqual({ files: { 'knowledge/en/shipping.md': 'We ship in 1 day.' }, message: 'faster shipping' });
    const post = storeCalls(srv.calls, '/v1/admin/store/publish')[0];
    expect(post.headers['Content-Type']).toBe('application/json');
    expect(post.credentials).toBe('same-origin');
    expect($('[data-testid="publish-notice"]')!.textContent).toBe('Published version 5 (~knowledge/en/shipping.md).');
    expect($('[data-testid="store-version"]')!.textContent).toContain('version 5 · abcdef0123');
    expect($('[data-testid="draft-summary"]')!.textContent).toBe('No changes yet.');
    expect($('[data-testid="publish-error"]')).toBeNull();
  });
});

describe('the draft sent', () => {
  it('leaves out unchanged files, and copies the built-in articles in with the first article of a version that has none', () => {
    const base = { 'store.toml': 'a = 1' };
    const defaults = { 'knowledge/en/returns.md': 'R', 'store.toml': 'x' };
    expect(draftChanges(base, { 'store.toml': 'a = 1' }, defaults)).toEqual({});
    expect(draftChanges(base, { 'store.toml': 'a = 2', 'gone.yml': null }, defaults)).toEqual({ 'store.toml': 'a = 2' });
    expect(draftChanges(base, { 'knowledge/en/gift.md': 'G' }, defaults)).toEqual({ 'knowledge/en/gift.md': 'G', 'knowledge/en/returns.md': 'R' });
    expect(draftChanges({ ...base, 'knowledge/en/a.md': 'A' }, { 'knowledge/en/gift.md': 'G' }, defaults)).toEqual({ 'knowledge/en/gift.md': 'G' });
  });
});

describe('store.toml editing', () => {
  it('reads and writes keys in place, keeping comments', () => {
    expect(readNumber(TOML, 'policy', 'return_window_days')).toBe(30);
    expect(readNumber(TOML, 'policy', 'free_shipping_threshold')).toBeNull();
    let t = setRaw(TOML, 'policy', 'free_shipping_threshold', '75');
    expect(t).toContain('\nfree_shipping_threshold = 75\n');
    expect(t).not.toContain('# free_shipping_threshold');
    t = setRaw(t, 'contact', 'email', '"help@example.com"');
    expect(t.trimEnd().endsWith('[contact]\nemail = "help@example.com"')).toBe(true);
    t = setRaw(t, 'policy', 'late_after_days', null);
    expect(readNumber(t, 'policy', 'late_after_days')).toBeNull();
    expect(readText(t, 'widget', 'greeting')).toEqual({ en: 'Hi! Ask me.', es: '¡Hola!' });
    expect(readText(writeText(t, 'widget', 'title', { '': 'Aide' }), 'widget', 'title')).toEqual({ '': 'Aide' });
    expect(readText(t, 'widget.colours', 'primary')).toEqual({ '': '#1f6feb' });
    expect(readText(t, '', 'name')).toEqual({ '': 'our store' });
  });
});
