import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Alerts } from '../../src/console/alerts';
import { mountConsole, type MountedConsole } from '../../src/console/mount';
import { MemoryStorage, settle } from '../helpers';
import { EventSources, cmsg, consoleServer, makeCase } from './fakes';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let mounted: MountedConsole | null = null;
afterEach(() => {
  const m = mounted;
  mounted = null;
  if (m) act(() => m.unmount());
  document.body.innerHTML = '';
  vi.useRealTimers();
});

const noAlerts: Alerts = { play() {}, unlock() {}, permission: () => 'default', request: async () => 'default', show() {} };

async function setup(opts: { signedIn?: boolean; server?: ReturnType<typeof consoleServer> } = {}) {
  const srv = opts.server ?? consoleServer({ signedIn: opts.signedIn ?? true });
  const sources = new EventSources();
  const root = document.createElement('div');
  document.body.appendChild(root);
  let now = 5_000_000;
  await act(async () => {
    mounted = mountConsole(
      root,
      { fetch: srv.fetch, createEventSource: sources.factory, alerts: noAlerts, storage: new MemoryStorage(), now: () => now, pageActive: () => true },
      () => now,
    );
    await settle();
  });
  const $ = <T extends Element = HTMLElement>(sel: string) => root.querySelector(sel) as T | null;
  const $$ = (sel: string) => Array.from(root.querySelectorAll(sel)) as HTMLElement[];
  const emit = (type: string, data: unknown) => act(async () => sources.last.emit(type, data));
  const click = (el: Element | null) =>
    act(async () => {
      if (!el) throw new Error('nothing to click');
      (el as HTMLElement).click();
      await settle();
    });
  return { root, srv, sources, $, $$, emit, click, advance: (ms: number) => (now += ms), m: mounted! };
}

function type(el: HTMLInputElement | HTMLTextAreaElement, value: string, caret = value.length) {
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
  if (el instanceof HTMLTextAreaElement) el.setSelectionRange(caret, caret);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

function choose(el: HTMLSelectElement, value: string) {
  Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value')!.set!.call(el, value);
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

function key(el: Element, k: string, extra: KeyboardEventInit = {}) {
  const ev = new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...extra });
  el.dispatchEvent(ev);
  return ev;
}

/** Signed in with the queue streamed in, and conversation c_3 open. */
async function withOpenCase() {
  const t = await setup();
  await act(async () => t.sources.last.open());
  await t.emit('queue', { queue: t.srv.state.queue, mine: [], agents: t.srv.state.agents });
  await t.click(t.$('[data-testid="queue-item"][data-conversation-id="c_3"] button'));
  return t;
}

describe('sign-in', () => {
  it('has labelled fields, says precisely what is wrong, then shows the console with the focus on the queue', async () => {
    const { $, click, root, srv } = await setup({ signedIn: false });
    const email = $<HTMLInputElement>('[data-testid="signin-email"]')!;
    const password = $<HTMLInputElement>('[data-testid="signin-password"]')!;
    expect(root.querySelector('main')).not.toBeNull();
    expect(root.querySelector(`label[for="${email.id}"]`)?.textContent).toBe('Email');
    expect(root.querySelector(`label[for="${password.id}"]`)?.textContent).toBe('Password');
    expect(email.autocomplete).toBe('username');
    expect(password.type).toBe('password');
    expect(document.activeElement).toBe(email);

    await click($('[data-testid="signin-submit"]'));
    expect($('#wc-email-error')?.textContent).toBe('Enter your email address.');
    expect(email.getAttribute('aria-invalid')).toBe('true');
    expect(email.getAttribute('aria-describedby')).toBe('wc-email-error');
    expect($('#wc-password-error')?.textContent).toBe('Enter your password.');
    expect(document.activeElement).toBe(email);
    expect(srv.calls.filter((c) => c.url === '/v1/agent/session')).toHaveLength(0);

    await act(async () => {
      type(email, 'alice@example.com');
      type(password, 'nope');
    });
    await click($('[data-testid="signin-submit"]'));
    const alert = $('[data-testid="signin-error"]')!;
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toBe('Wrong email or password.');
    expect(document.activeElement).toBe(password);

    await act(async () => type(password, 'secret'));
    await click($('[data-testid="signin-submit"]'));
    const call = srv.calls.filter((c) => c.url === '/v1/agent/session').pop()!;
    expect(call).toMatchObject({ method: 'POST', credentials: 'same-origin', body: { email: 'alice@example.com', password: 'secret' } });
    expect($('[data-testid="signin-email"]')).toBeNull();
    expect(root.querySelector('header')?.textContent).toContain('Alice');
    expect(root.querySelector('nav[aria-label="Cases"]')).not.toBeNull();
    expect(root.querySelector('main#wc-main')).not.toBeNull();
    expect(root.querySelector('aside[aria-label="Details"]')).not.toBeNull();
    expect(document.activeElement?.id).toBe('wc-queue-title');
  });

  it('offers single sign-on only when the server has it on', async () => {
    const off = await setup({ signedIn: false });
    expect(off.srv.calls.some((c) => c.url === '/v1/agent/oidc')).toBe(true);
    expect(off.$('[data-testid="signin-sso"]')).toBeNull();
    act(() => mounted!.unmount());
    mounted = null;
    document.body.innerHTML = '';
    const server = consoleServer({ signedIn: false }, (call) =>
      call.url === '/v1/agent/oidc' ? { status: 200, body: { enabled: true, start: '/v1/agent/oidc/start' } } : undefined,
    );
    const on = await setup({ signedIn: false, server });
    const link = on.$<HTMLAnchorElement>('[data-testid="signin-sso"]')!;
    expect(link.textContent).toBe('Sign in with single sign-on');
    expect(link.getAttribute('href')).toBe('/v1/agent/oidc/start');
  });

  it('signs out back to the form, focus in the email field', async () => {
    const { $, click } = await setup();
    await click($('[data-testid="sign-out"]'));
    expect($('[role="status"].wc-notice')?.textContent).toBe('You have signed out.');
    expect(document.activeElement).toBe($('[data-testid="signin-email"]'));
  });
});

describe('the queue', () => {
  it('lists cases by priority with reason, live waiting time, priority, sentiment, intent, order, offline marker', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { $$, emit, sources, advance, $ } = await setup();
    await act(async () => sources.last.open());
    await emit('queue', {
      queue: [
        makeCase(1, { waiting_seconds: 75, priority: 10 }),
        makeCase(2, {
          priority: 42,
          priority_label: 'high',
          reason: 'negative_sentiment',
          waiting_seconds: 5,
          offline: true,
          contact_email: 'j…@example.com',
          order: { order_number: '1001', state: 'shipped', total: '129.00', currency: 'USD' },
        }),
      ],
      mine: [],
      agents: [
        { id: 'a_1', name: 'Alice', online: true, active_chats: 0, max_chats: 3 },
        { id: 'a_2', name: 'Bob', online: false, active_chats: 3, max_chats: 3 },
      ],
    });
    expect($('[data-testid="stream-status"]')?.textContent).toContain('Live');
    const items = $$('[data-testid="queue-item"]');
    expect(items.map((i) => i.dataset.conversationId)).toEqual(['c_2', 'c_1']);
    const high = items[0];
    const btn = high.querySelector('button')!;
    expect(btn.getAttribute('aria-label')).toBe('H-2: Upset shopper, high priority');
    const described = btn.getAttribute('aria-describedby')!.split(' ').map((id) => document.getElementById(id)?.textContent ?? '');
    expect(described.join(' ')).toContain('Sentiment very negative (−0.60), falling');
    expect(high.textContent).toContain('Order #1001');
    expect(high.textContent).toContain('Offline · reply by email to j…@example.com');
    expect(high.textContent).toContain('Intent: Track order');
    expect(high.querySelector('svg polyline')).not.toBeNull();
    expect(items[1].querySelector('[data-testid="queue-wait"]')?.textContent).toContain('1m 15s');
    await act(async () => {
      advance(10_000);
      vi.advanceTimersByTime(1000);
    });
    expect(items[1].querySelector('[data-testid="queue-wait"]')?.textContent).toContain('1m 25s');
    expect(items[1].querySelector('[data-testid="queue-wait"] .wc-sr')?.textContent).toBe('Waiting 1 minute 25 seconds.');
    expect(document.title).toBe('(2) wismo console');
    const roster = $('[data-testid="roster"]')!;
    expect(roster.textContent).toContain('Alice (you)Online0/3 chats');
    expect(roster.textContent).toContain('BobOffline3/3 chats · full');
  });
});

describe('a conversation', () => {
  it('shows every role apart, marks notes as never seen by the shopper, and the verified order', async () => {
    const srv = consoleServer({ signedIn: true });
    srv.state.messages.c_3.push(cmsg(4, 'note', 'Shopper was rude before', { agent: 'Bob' }), cmsg(5, 'agent', 'Hi, Bob here', { agent: 'Bob' }));
    const t = await setup({ server: srv });
    await act(async () => t.sources.last.open());
    await t.emit('queue', { queue: srv.state.queue, mine: [], agents: srv.state.agents });
    await t.click(t.$('[data-testid="queue-item"] button'));
    const pane = t.$('[data-testid="conversation"]')!;
    expect(document.activeElement).toBe(pane.querySelector('h2'));
    expect(pane.querySelector('h2')?.textContent).toContain('Case H-3');
    const log = t.$('[data-testid="transcript"]')!;
    expect(log.getAttribute('role')).toBe('log');
    expect(log.getAttribute('aria-live')).toBe('polite');
    const roles = Array.from(log.querySelectorAll<HTMLElement>('[data-message-id]')).map((e) => e.dataset.role);
    expect(roles).toEqual(['bot', 'user', 'system', 'note', 'agent']);
    const note = log.querySelector('[data-role="note"]')!;
    expect(note.classList.contains('wc-msg-note')).toBe(true);
    expect(note.textContent).toContain('Internal note — the shopper never sees this');
    expect(note.textContent).toContain('Note by Bob');
    expect(log.querySelector('[data-role="agent"]')?.textContent).toContain('Bob (agent)');
    const order = t.$('[data-testid="order-panel"]')!;
    expect(order.textContent).toContain('Order #1001');
    expect(order.textContent).toContain('Verified');
    expect(order.textContent).toContain('Merino Wool Sweater');
    expect(order.textContent).toContain('1 Main St');
    expect(order.querySelector('a')?.getAttribute('rel')).toContain('noopener');
  });

  it('Accept, then reply (typing sent) and internal notes from the same box; /shortcut expands', async () => {
    const t = await withOpenCase();
    const text = () => t.$<HTMLTextAreaElement>('[data-testid="composer-text"]')!;
    // Not mine yet: replies are off, notes on.
    expect(t.$<HTMLInputElement>('[data-testid="mode-reply"]')!.disabled).toBe(true);
    expect(t.$<HTMLInputElement>('[data-testid="mode-note"]')!.checked).toBe(true);
    expect(t.$('.wc-note-banner')?.textContent).toContain('Internal note — the shopper never sees this');
    await t.click(t.$('[data-testid="accept"]'));
    expect(t.srv.calls.some((c) => c.method === 'POST' && c.url === '/v1/agent/conversations/c_3/accept')).toBe(true);
    expect(t.$('[data-testid="accept"]')).toBeNull();
    expect(t.$$('[data-testid="mine-item"]').map((e) => e.dataset.caseId)).toEqual(['H-3']);
    expect(t.$<HTMLInputElement>('[data-testid="mode-reply"]')!.checked).toBe(true);
    expect(document.activeElement).toBe(text());
    expect(t.$('[data-testid="announcer"]')?.textContent).toBe('You accepted case H-3.');

    await act(async () => type(text(), 'Hello /thanks '));
    expect(text().value).toBe('Hello Thanks for waiting! ');
    expect(t.srv.calls.filter((c) => c.url.endsWith('/typing')).map((c) => c.body)).toEqual([{ on: true }]);
    await act(async () => {
      key(text(), 'Enter');
      await settle();
    });
    const sent = t.srv.calls.filter((c) => c.url.endsWith('/messages'));
    expect(sent.map((c) => c.body)).toEqual([{ text: 'Hello Thanks for waiting!' }]);
    expect(t.srv.calls.filter((c) => c.url.endsWith('/typing')).map((c) => c.body)).toEqual([{ on: true }, { on: false }]);
    expect(text().value).toBe('');
    expect(t.$('[data-testid="transcript"] [data-role="agent"]')?.textContent).toContain('Hello Thanks for waiting!');

    await t.click(t.$('[data-testid="mode-note"]'));
    expect(t.$('[data-testid="composer-send"]')?.textContent).toBe('Add note');
    await act(async () => type(text(), 'VIP customer'));
    await t.click(t.$('[data-testid="composer-send"]'));
    expect(t.srv.calls.filter((c) => c.url.endsWith('/notes')).map((c) => c.body)).toEqual([{ text: 'VIP customer' }]);
    // Notes never tell the shopper someone is typing.
    expect(t.srv.calls.filter((c) => c.url.endsWith('/typing'))).toHaveLength(2);
    expect(t.$('[data-testid="transcript"] [data-role="note"]')?.textContent).toContain('VIP customer');
  });

  it('offers matching canned replies while a /word is typed; arrows and Enter pick one', async () => {
    const t = await withOpenCase();
    await act(async () => {
      await t.m.controller.addCanned({ shortcut: '/thx2', title: 'Thanks again', text: 'Thanks again!' });
    });
    const text = t.$<HTMLTextAreaElement>('[data-testid="composer-text"]')!;
    await act(async () => type(text, '/th'));
    const list = t.$('[role="listbox"]')!;
    expect(Array.from(list.querySelectorAll('[role="option"]')).map((o) => o.textContent)).toEqual(['/thanks Thanks', '/thx2 Thanks again']);
    expect(text.getAttribute('aria-activedescendant')).toBe(list.querySelector('[aria-selected="true"]')!.id);
    await act(async () => {
      key(text, 'ArrowDown');
    });
    await act(async () => {
      key(text, 'Enter');
    });
    expect(text.value).toBe('Thanks again!');
    expect(t.$('[role="listbox"]')).toBeNull();
    expect(t.srv.calls.filter((c) => c.url.endsWith('/notes') || c.url.endsWith('/messages'))).toHaveLength(0);
  });

  it('shows why an action failed (409 already_assigned)', async () => {
    const srv = consoleServer({ signedIn: true }, (call) =>
      call.url.endsWith('/accept') ? { status: 409, body: { code: 'already_assigned' } } : undefined,
    );
    const t = await setup({ server: srv });
    await t.emit('queue', { queue: srv.state.queue, mine: [], agents: [] });
    await t.click(t.$('[data-testid="queue-item"] button'));
    await t.click(t.$('[data-testid="accept"]'));
    const err = t.$('[data-testid="action-error"]')!;
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toBe('Another agent has already taken this case.');
  });
});

describe('resolving', () => {
  it('asks for an outcome and tags, posts them, and puts the focus back on the heading', async () => {
    const t = await withOpenCase();
    await t.click(t.$('[data-testid="accept"]'));
    const trigger = t.$<HTMLButtonElement>('[data-testid="resolve"]')!;
    await t.click(trigger);
    expect(trigger.getAttribute('aria-expanded')).toBe('true');
    const form = t.$('[data-testid="resolve-form"]')!;
    const outcome = t.$<HTMLSelectElement>('[data-testid="resolve-outcome"]')!;
    expect(document.activeElement).toBe(outcome);
    expect(form.querySelector(`label[for="${outcome.id}"]`)?.textContent).toBe('Outcome');
    expect(Array.from(outcome.options).map((o) => o.value)).toEqual(['', 'resolved', 'refunded', 'replaced', 'reshipped', 'cancelled', 'no_action', 'other']);

    await t.click(t.$('[data-testid="resolve-submit"]'));
    expect(t.$('#wc-outcome-error')?.textContent).toBe('Choose an outcome.');
    expect(t.srv.calls.filter((c) => c.url.endsWith('/resolve'))).toHaveLength(0);

    await act(async () => {
      choose(outcome, 'refunded');
      type(t.$<HTMLInputElement>('[data-testid="resolve-tags"]')!, 'damaged, Late delivery, damaged');
    });
    expect(t.$('#wc-tags-help')?.textContent).toContain('2 tags: damaged, Late delivery.');
    await t.click(t.$('[data-testid="resolve-submit"]'));
    expect(t.srv.calls.filter((c) => c.url.endsWith('/resolve')).map((c) => c.body)).toEqual([
      { outcome: 'refunded', tags: ['damaged', 'Late delivery'] },
    ]);
    expect(t.$('[data-testid="resolve-form"]')).toBeNull();
    expect(t.$('[data-testid="case-status"]')?.textContent).toContain('Resolved');
    expect(t.$$('[data-testid="mine-item"]')).toHaveLength(0);
    expect(document.activeElement?.id).toBe('wc-conv-title');
    expect(t.$('[data-testid="announcer"]')?.textContent).toBe('Case H-3 resolved.');
  });

  it('shows an offline case as offline only while it waits: not once someone took it and resolved it', async () => {
    const srv = consoleServer({ signedIn: true });
    srv.state.queue = [makeCase(3, { offline: true, contact_email: 'jo@example.com' })];
    const t = await setup({ server: srv });
    await act(async () => t.sources.last.open());
    await t.emit('queue', { queue: srv.state.queue, mine: [], agents: srv.state.agents });
    await t.click(t.$('[data-testid="queue-item"][data-conversation-id="c_3"] button'));
    expect(t.$('[data-testid="offline-note"]')?.textContent).toContain('Offline case: no agent was online.');
    await t.click(t.$('[data-testid="accept"]'));
    expect(t.$('[data-testid="case-status"]')?.textContent).toContain('Assigned to you');
    expect(t.$('[data-testid="offline-note"]')).toBeNull();
    await t.click(t.$('[data-testid="resolve"]'));
    await act(async () => choose(t.$<HTMLSelectElement>('[data-testid="resolve-outcome"]')!, 'resolved'));
    await t.click(t.$('[data-testid="resolve-submit"]'));
    expect(t.$('[data-testid="case-status"]')?.textContent).toContain('Resolved');
    expect(t.root.textContent).not.toContain('Offline case');
  });

  it('Escape closes the form and gives the focus back to its button; transfer lists online agents only', async () => {
    const t = await withOpenCase();
    await t.click(t.$('[data-testid="accept"]'));
    await t.click(t.$('[data-testid="resolve"]'));
    await act(async () => {
      key(t.$('[data-testid="resolve-outcome"]')!, 'Escape');
    });
    expect(t.$('[data-testid="resolve-form"]')).toBeNull();
    expect(document.activeElement).toBe(t.$('[data-testid="resolve"]'));
    await t.click(t.$('[data-testid="transfer"]'));
    const sel = t.$<HTMLSelectElement>('[data-testid="transfer-agent"]')!;
    expect(Array.from(sel.options).map((o) => o.textContent)).toEqual(['Choose an online agent…', 'Bob — 1/3 chats']);
    await act(async () => choose(sel, 'a_2'));
    await t.click(t.$('[data-testid="transfer-submit"]'));
    expect(t.srv.calls.filter((c) => c.url.endsWith('/transfer')).map((c) => c.body)).toEqual([{ agent_id: 'a_2' }]);
    expect(t.$('[data-testid="case-status"]')?.textContent).toContain('Assigned to Bob');
  });

  it('hands back to the bot only after a second, explicit click', async () => {
    const t = await withOpenCase();
    await t.click(t.$('[data-testid="accept"]'));
    await t.click(t.$('[data-testid="release"]'));
    expect(t.srv.calls.filter((c) => c.url.endsWith('/release'))).toHaveLength(0);
    expect(document.activeElement).toBe(t.$('[data-testid="release-confirm"]'));
    await t.click(t.$('[data-testid="release-confirm"]'));
    expect(t.srv.calls.filter((c) => c.url.endsWith('/release'))).toHaveLength(1);
    expect(t.$('[data-testid="case-status"]')?.textContent).toContain('Handed back to the bot');
    expect(t.$<HTMLInputElement>('[data-testid="mode-note"]')!.checked).toBe(true);
  });
});

describe('drafts', () => {
  it('keep what was written per conversation while switching, and forget it on sign-out', async () => {
    const srv = consoleServer({ signedIn: true, queue: [makeCase(3), makeCase(4)] });
    const t = await setup({ server: srv });
    await t.emit('queue', { queue: srv.state.queue, mine: [], agents: [] });
    const open = (id: string) => t.click(t.$(`[data-testid="queue-item"][data-conversation-id="${id}"] button`));
    await open('c_3');
    await act(async () => type(t.$<HTMLTextAreaElement>('[data-testid="composer-text"]')!, 'half a thought'));
    await open('c_4');
    expect(t.$<HTMLTextAreaElement>('[data-testid="composer-text"]')!.value).toBe('');
    await open('c_3');
    expect(t.$<HTMLTextAreaElement>('[data-testid="composer-text"]')!.value).toBe('half a thought');
    expect(t.m.controller.drafts.size).toBe(1);
    await t.click(t.$('[data-testid="sign-out"]'));
    expect(t.m.controller.drafts.size).toBe(0);
  });
});
