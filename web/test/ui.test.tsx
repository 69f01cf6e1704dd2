import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfig, textOn } from '../src/config';
import { mount, type Mounted } from '../src/mount';
import type { WidgetConfig } from '../src/config';
import { CSAT_KEY, READ_KEY, STORAGE_KEY } from '../src/client';
import { GREETING, MemoryStorage, Sockets, msg, server, settle, type Call } from './helpers';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const CONFIG: WidgetConfig = { baseUrl: 'http://shop.test', locale: 'en', position: 'right', color: null, customerToken: null };

let mounted: Mounted | null = null;
afterEach(() => {
  const m = mounted;
  mounted = null;
  if (m) act(() => m.unmount());
});

async function setup(
  config: Partial<WidgetConfig> = {},
  opts: { srv?: ReturnType<typeof server>; storage?: MemoryStorage; session?: MemoryStorage } = {},
) {
  const sockets = new Sockets();
  const srv = opts.srv ?? server();
  const storage = opts.storage ?? new MemoryStorage();
  const session = opts.session ?? new MemoryStorage();
  let n = 0;
  await act(async () => {
    mounted = mount({ ...CONFIG, ...config }, {
      fetch: srv.fetch,
      createSocket: sockets.factory,
      storage,
      session,
      newId: () => `cm-${++n}`,
      page: () => 'http://shop.test/',
    });
  });
  const m = mounted!;
  const $ = <T extends Element = HTMLElement>(sel: string) => m.shadow.querySelector(sel) as T | null;
  const $$ = (sel: string) => Array.from(m.shadow.querySelectorAll(sel)) as HTMLElement[];
  const launcher = $<HTMLButtonElement>('.wismo-launcher')!;
  const panel = $('[role="dialog"]')!;
  const input = () => $<HTMLTextAreaElement>('textarea')!;
  /** Opens the chat and brings the conversation online. */
  const openOnline = async () => {
    await act(async () => {
      launcher.click();
      await settle();
    });
    await act(async () => sockets.last.ready());
  };
  const server_ = (frame: unknown) => act(async () => sockets.last.receive(frame));
  return { m, $, $$, launcher, panel, input, sockets, srv, storage, session, openOnline, frame: server_ };
}

function typeText(el: HTMLTextAreaElement, value: string) {
  const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!;
  setter.call(el, value);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

function key(el: Element, k: string, extra: KeyboardEventInit = {}) {
  const ev = new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...extra });
  el.dispatchEvent(ev);
  return ev;
}

describe('the widget on a page', () => {
  it('lives in a shadow root with prefixed classes, a labelled launcher and a hidden dialog', async () => {
    const { m, launcher, panel, $ } = await setup();
    expect(m.host.tagName.toLowerCase()).toBe('wismo-widget');
    expect(document.querySelector('.wismo-launcher')).toBeNull(); // not in the page's DOM
    expect(launcher.getAttribute('aria-label')).toBe('Open chat');
    expect(launcher.getAttribute('aria-expanded')).toBe('false');
    expect(panel.hidden).toBe(true);
    expect(panel.getAttribute('aria-labelledby')).toBe('wismo-title');
    const log = $('[role="log"]')!;
    expect(log.getAttribute('aria-live')).toBe('polite');
    const classes = Array.from(m.shadow.querySelectorAll('[class]')).flatMap((e) => Array.from(e.classList));
    expect(classes.length).toBeGreaterThan(5);
    expect(classes.every((c) => c.startsWith('wismo-'))).toBe(true);
  });

  it('opens with the focus in the message box; Escape closes it and gives the focus back to the launcher', async () => {
    const { launcher, panel, input, m } = await setup();
    launcher.focus();
    await act(async () => {
      launcher.click();
      await settle();
    });
    expect(panel.hidden).toBe(false);
    expect(launcher.getAttribute('aria-expanded')).toBe('true');
    expect(m.shadow.activeElement).toBe(input());
    await act(async () => {
      key(input(), 'Escape');
    });
    expect(panel.hidden).toBe(true);
    expect(m.shadow.activeElement).toBe(launcher);
  });

  it('Enter sends, Shift+Enter does not; the message shows at once as pending, then as the server’s', async () => {
    const { input, sockets, openOnline, frame, $$ } = await setup();
    await openOnline();
    await act(async () => typeText(input(), 'line one'));
    const shifted = await act(async () => key(input(), 'Enter', { shiftKey: true }));
    expect(shifted.defaultPrevented).toBe(false);
    expect(sockets.last.framesOf('message')).toHaveLength(0);
    await act(async () => typeText(input(), 'line one\nline two'));
    await act(async () => {
      key(input(), 'Enter');
    });
    expect(input().value).toBe('');
    const sent = sockets.last.framesOf('message');
    expect(sent).toEqual([{ type: 'message', text: 'line one\nline two', client_message_id: 'cm-1' }]);
    const pending = $$('.wismo-pending');
    expect(pending).toHaveLength(1);
    expect(pending[0].textContent).toContain('Sending…');
    await frame({ type: 'message', message: msg(2, 'user', 'line one\nline two') });
    await frame({ type: 'ack', client_message_id: 'cm-1', id: '2' });
    expect($$('.wismo-pending')).toHaveLength(0);
    const mine = $$('.wismo-msg-user');
    expect(mine).toHaveLength(1);
    expect(mine[0].dataset.messageId).toBe('2');
  });

  it('says why a message was refused (too long, too many) instead of offering Retry', async () => {
    const { input, openOnline, frame, $$, sockets } = await setup();
    await openOnline();
    await act(async () => typeText(input(), 'hello'));
    await act(async () => {
      key(input(), 'Enter');
    });
    await frame({ type: 'error', code: 'rate_limited', message: 'too many requests', client_message_id: 'cm-1' });
    let pending = $$('.wismo-pending');
    expect(pending[0].textContent).toContain('Too many messages in a short time');
    expect(pending[0].querySelector('.wismo-retry')).toBeNull();
    // A plain failure still offers Retry.
    await act(async () => typeText(input(), 'again'));
    await act(async () => {
      key(input(), 'Enter');
    });
    await frame({ type: 'error', code: 'timeout', message: 'Request timed out', client_message_id: 'cm-2' });
    pending = $$('.wismo-pending');
    expect(pending[1].querySelector('.wismo-retry')?.textContent).toBe('Retry');
    // A frame over the limit: the server closes with 1009.
    await act(async () => typeText(input(), 'x'.repeat(1500)));
    await act(async () => {
      key(input(), 'Enter');
    });
    await act(async () => {
      const s = sockets.last;
      s.closed = true;
      s.onclose?.({ code: 1009, reason: 'message too big: the limit is 64 KiB' });
    });
    pending = $$('.wismo-pending');
    expect(pending[2].textContent).toContain('That message is too long');
    expect(pending[2].querySelector('.wismo-retry')).toBeNull();
  });

  it('renders message text as text: no markup, no script, line breaks kept', async () => {
    const { openOnline, frame, $, m } = await setup();
    await openOnline();
    const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">\n<b>bold</b> https://evil.example';
    await frame({ type: 'message', message: msg(2, 'bot', evil) });
    const bubble = $('[data-message-id="2"] .wismo-msg-text')!;
    expect(bubble.textContent).toBe(evil);
    expect(bubble.children).toHaveLength(0);
    expect(m.shadow.querySelector('script, img, b')).toBeNull();
    expect(m.shadow.querySelectorAll('a')).toHaveLength(0); // nothing linkified
    expect((window as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('quick replies under the latest bot message send their text', async () => {
    const { openOnline, $$, sockets } = await setup();
    await openOnline();
    const buttons = $$('.wismo-quick button');
    expect(buttons.map((b) => b.textContent)).toEqual(GREETING.quick_replies);
    await act(async () => buttons[0].click());
    expect(sockets.last.framesOf('message')).toEqual([
      { type: 'message', text: 'Where is my order?', client_message_id: 'cm-1' },
    ]);
    expect($$('.wismo-quick button')).toHaveLength(0); // gone once the shopper answered
  });

  it('shows the typing indicator while the bot types', async () => {
    const { openOnline, frame, $ } = await setup();
    await openOnline();
    await frame({ type: 'typing', role: 'bot', on: true });
    expect($('.wismo-typing')?.textContent).toContain('The assistant is typing…');
    await frame({ type: 'message', message: msg(2, 'bot', 'Here you go') });
    expect($('.wismo-typing')).toBeNull();
  });

  it('shows a banner while waiting for a person and when an agent joins; agent messages are labelled', async () => {
    const { openOnline, frame, $ } = await setup();
    await openOnline();
    expect($('.wismo-handoff')).toBeNull();
    await frame({ type: 'handoff', handoff: { status: 'queued', reason: 'asked for a person' } });
    expect($('.wismo-handoff')?.textContent).toContain("You're in the queue for a person");
    await frame({ type: 'handoff', handoff: { status: 'assigned', reason: null } });
    expect($('.wismo-handoff')?.textContent).toBe('Someone from our team has joined');
    await frame({ type: 'message', message: msg(3, 'agent', 'Hi, I am Sam.', { author: 'Sam' }) });
    expect($('.wismo-handoff')?.textContent).toBe('Sam from our team has joined');
    const agentMsg = $('[data-message-id="3"]')!;
    expect(agentMsg.classList.contains('wismo-msg-agent')).toBe(true);
    expect(agentMsg.querySelector('.wismo-msg-label')?.textContent).toBe('Agent · Sam');
    await frame({ type: 'handoff', handoff: { status: 'resolved', reason: null } });
    expect($('.wismo-handoff')).toBeNull();
  });

  it('shows order cards with a safe tracking link, and never links other URLs', async () => {
    const { openOnline, frame, $ } = await setup();
    await openOnline();
    const card = {
      order_number: '1001',
      state: 'in_transit',
      items: ['Merino Wool Sweater', 'Wool Beanie'],
      carrier: 'USPS',
      tracking_number: '9400111899210483372909',
      tracking_url: 'https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899210483372909',
      eta: 'Friday, October 2',
    };
    await frame({ type: 'message', message: msg(2, 'bot', 'Your order is on its way.', { order_card: card }) });
    const el = $('[data-message-id="2"] .wismo-card')!;
    expect(el.textContent).toContain('Order #1001');
    expect(el.textContent).toContain('In transit');
    expect(el.textContent).toContain('Merino Wool Sweater');
    expect(el.textContent).toContain('USPS');
    expect(el.textContent).toContain('Friday, October 2');
    const a = el.querySelector('a')!;
    expect(a.getAttribute('href')).toBe(card.tracking_url);
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toContain('noopener');
    await frame({
      type: 'message',
      message: msg(3, 'bot', 'x', { order_card: { ...card, tracking_url: 'javascript:alert(1)' } }),
    });
    const bad = $('[data-message-id="3"] .wismo-card')!;
    expect(bad.querySelector('a')).toBeNull();
    expect(bad.textContent).toContain('9400111899210483372909');
  });

  it('shows “Reconnecting…” while the socket is down and queues what is written meanwhile', async () => {
    const { openOnline, sockets, $, input } = await setup();
    await openOnline();
    expect($('.wismo-conn')).toBeNull();
    await act(async () => sockets.last.drop());
    expect($('.wismo-conn')?.textContent).toBe('Reconnecting…');
    await act(async () => typeText(input(), 'still there?'));
    await act(async () => {
      key(input(), 'Enter');
    });
    expect($('.wismo-pending')?.textContent).toContain('still there?');
    await act(async () => {
      await new Promise((r) => setTimeout(r, 600));
    });
    await act(async () => sockets.last.ready());
    expect($('.wismo-conn')).toBeNull();
    expect(sockets.last.framesOf('message')).toEqual([
      { type: 'message', text: 'still there?', client_message_id: 'cm-1' },
    ]);
  });

  it('speaks Spanish when asked, and setLocale switches the words', async () => {
    const { launcher, m, $, srv, openOnline } = await setup({ locale: 'es' });
    expect(launcher.getAttribute('aria-label')).toBe('Abrir chat');
    await openOnline();
    expect(srv.calls[0].body.locale).toBe('es');
    expect($('textarea')?.getAttribute('aria-label')).toBe('Mensaje');
    await act(async () => m.widget.api().setLocale('en'));
    expect($('textarea')?.getAttribute('aria-label')).toBe('Message');
    expect($('.wismo-close')?.getAttribute('aria-label')).toBe('Close chat');
  });

  it('the JS API opens and closes the panel, and position/colour come from the config', async () => {
    const { m, panel, $ } = await setup({ position: 'left', color: '#ffcc00' });
    const root = $('.wismo-root')!;
    expect(root.classList.contains('wismo-left')).toBe(true);
    expect(root.style.getPropertyValue('--wismo-accent')).toBe('#ffcc00');
    expect(root.style.getPropertyValue('--wismo-on-accent')).toBe('#111111');
    await act(async () => {
      m.widget.api().open();
      await settle();
    });
    expect(panel.hidden).toBe(false);
    await act(async () => m.widget.api().close());
    expect(panel.hidden).toBe(true);
  });
});

describe('a person takes over', () => {
  it('shows the case number and expected wait while queued, who joined, who is typing, and system notices', async () => {
    const { openOnline, frame, $, $$ } = await setup();
    await openOnline();
    await frame({
      type: 'handoff',
      handoff: { status: 'queued', reason: 'asked_for_human', case_id: 'H-3', agent: null, wait_seconds: 120 },
    });
    const banner = $('.wismo-handoff')!;
    expect(banner.getAttribute('role')).toBe('status');
    expect(banner.dataset.status).toBe('queued');
    expect(banner.textContent).toContain("You're in the queue for a person");
    expect(banner.textContent).not.toContain('No one');
    expect($('.wismo-handoff-meta')?.textContent).toBe('Case H-3 · Expected wait: about 2 minutes');
    await frame({ type: 'handoff', handoff: { status: 'queued', reason: null, case_id: 'H-3', wait_seconds: 20 } });
    expect($('.wismo-handoff-meta')?.textContent).toBe('Case H-3 · Expected wait: less than a minute');

    await frame({ type: 'message', message: msg(2, 'system', 'Alice joined') });
    await frame({ type: 'handoff', handoff: { status: 'assigned', reason: null, case_id: 'H-3', agent: 'Alice' } });
    expect($('.wismo-handoff')?.textContent).toBe('Alice from our team has joined');
    const notice = $('[data-message-id="2"]')!;
    expect(notice.classList.contains('wismo-msg-system')).toBe(true);
    expect(notice.textContent).toBe('Notice: Alice joined');

    await frame({ type: 'typing', role: 'agent', on: true });
    expect($('.wismo-typing')?.textContent).toBe('Alice is typing…');
    await frame({ type: 'message', message: msg(3, 'agent', 'Hi, Alice here.', { agent: 'Alice' } as never) });
    expect($('.wismo-typing')).toBeNull();
    expect($('[data-message-id="3"] .wismo-msg-label')?.textContent).toBe('Agent · Alice');

    // An internal note must never show, even if one slipped through.
    await frame({ type: 'message', message: { ...msg(4, 'bot', 'secret: customer is rude'), role: 'note' } });
    expect($('[data-message-id="4"]')).toBeNull();

    await frame({ type: 'message', message: msg(5, 'system', 'Back to the bot') });
    await frame({ type: 'handoff', handoff: { status: 'none', reason: null, case_id: null, agent: null } });
    expect($('.wismo-handoff')).toBeNull();
    expect($$('.wismo-msg-system').map((e) => e.textContent)).toEqual(['Notice: Alice joined', 'Notice: Back to the bot']);
  });

  it('says what the bot said when nobody is online: an email follow-up or a request for an email, never "shortly"', async () => {
    const { openOnline, frame, $ } = await setup();
    await openOnline();
    await frame({
      type: 'handoff',
      handoff: { status: 'queued', reason: 'asked_for_human', case_id: 'CASE-0001', wait_seconds: null, agents_online: false, email_follow_up: false },
    });
    const banner = $('.wismo-handoff')!;
    expect(banner.querySelector('.wismo-handoff-text')?.textContent).toBe(
      "No one from our team is online right now. Type your email address here and we'll write to you.",
    );
    expect(banner.textContent).not.toMatch(/shortly|join/);
    expect($('.wismo-handoff-meta')?.textContent).toBe('Case CASE-0001');
    // The shopper left an email: the banner follows.
    await frame({
      type: 'handoff',
      handoff: { status: 'queued', case_id: 'CASE-0001', agents_online: false, email_follow_up: true },
    });
    expect($('.wismo-handoff-text')?.textContent).toBe(
      "No one from our team is online right now. We'll reply by email, or here if someone comes online sooner.",
    );
    // Someone came online (the bot said so too): the wait shows.
    await frame({
      type: 'handoff',
      handoff: { status: 'queued', case_id: 'CASE-0001', agents_online: true, email_follow_up: false, wait_seconds: 60 },
    });
    expect($('.wismo-handoff-text')?.textContent).toBe("You're in the queue for a person from our team. They'll reply here.");
    expect($('.wismo-handoff-meta')?.textContent).toBe('Case CASE-0001 · Expected wait: about a minute');
  });

  it('speaks Spanish in the banner and the typing line', async () => {
    const { openOnline, frame, $ } = await setup({ locale: 'es' });
    await openOnline();
    await frame({ type: 'handoff', handoff: { status: 'queued', case_id: 'H-9', wait_seconds: 300 } });
    expect($('.wismo-handoff-meta')?.textContent).toBe('Caso H-9 · Espera estimada: unos 5 minutos');
    await frame({ type: 'handoff', handoff: { status: 'assigned', agent: 'Lucía' } });
    expect($('.wismo-handoff')?.textContent).toBe('Lucía, de nuestro equipo, se ha unido');
    await frame({ type: 'typing', role: 'agent', on: true });
    expect($('.wismo-typing')?.textContent).toBe('Lucía está escribiendo…');
    // Notices about people are said in the widget's language (the server's
    // `text` is English; `kind` and the names come with it).
    await frame({
      type: 'message',
      message: { ...msg(7, 'system', 'Lucía passed the conversation to Marta'), kind: 'agent_transferred', agent: 'Lucía', to: 'Marta' } as never,
    });
    expect($('[data-message-id="7"] .wismo-msg-text')?.textContent).toBe('Lucía ha pasado la conversación a Marta');
    await frame({
      type: 'message',
      message: { ...msg(8, 'system', 'Something new happened'), kind: 'unknown_kind', agent: 'Marta' } as never,
    });
    expect($('[data-message-id="8"] .wismo-msg-text')?.textContent).toBe('Something new happened');
  });
});

describe('How did we do?', () => {
  function csatServer(answer: (call: Call) => { status: number; body?: unknown }, extra?: Record<string, unknown>) {
    return server({
      handle: (call) => (call.url.endsWith('/csat') ? answer(call) : undefined),
      extra,
    });
  }

  async function resolved(opts: Parameters<typeof setup>[1] = {}, config: Partial<WidgetConfig> = {}) {
    const w = await setup(config, opts);
    await w.openOnline();
    await w.frame({ type: 'message', message: msg(2, 'system', 'Resolved: refunded') });
    await w.frame({ type: 'handoff', handoff: { status: 'resolved', reason: null, case_id: 'H-3', agent: 'Alice' } });
    return w;
  }

  it('asks once the case is resolved: a labelled group of five scores, an optional comment, then thanks', async () => {
    const srv = csatServer((call) => ({
      status: 201,
      body: { csat: { score: call.body.score, comment: call.body.comment ?? null, created_at: '2026-01-01T00:00:00.000Z' } },
    }));
    const { $, $$, m, storage } = await resolved({ srv });
    const form = $('[data-testid="csat"]')!;
    expect(form.querySelector('legend')?.textContent).toBe('How did we do?');
    const radios = $$('input[type="radio"][name="wismo-csat"]');
    expect(radios.map((r) => r.getAttribute('aria-label'))).toEqual([
      '1 of 5: Very bad',
      '2 of 5: Bad',
      '3 of 5: Okay',
      '4 of 5: Good',
      '5 of 5: Excellent',
    ]);
    // No score yet: told what to do, nothing sent.
    await act(async () => $<HTMLButtonElement>('[data-testid="csat-submit"]')!.click());
    expect($('.wismo-csat-error')?.textContent).toBe('Choose a score from 1 to 5.');
    expect(srv.calls.filter((c) => c.url.endsWith('/csat'))).toHaveLength(0);

    await act(async () => $<HTMLInputElement>('[data-testid="csat-score-4"]')!.click());
    expect($('.wismo-csat-error')).toBeNull();
    await act(async () => typeText($<HTMLTextAreaElement>('.wismo-csat-comment')!, '  Quick and kind.  '));
    await act(async () => {
      $<HTMLButtonElement>('[data-testid="csat-submit"]')!.click();
      await settle();
    });
    const call = srv.calls.find((c) => c.url.endsWith('/csat'))!;
    expect(call).toMatchObject({
      method: 'POST',
      url: 'http://shop.test/v1/conversations/c1/csat',
      body: { score: 4, comment: 'Quick and kind.' },
    });
    expect(call.headers.Authorization).toBe('Bearer t1');
    expect($('[data-testid="csat"]')).toBeNull();
    const thanks = $('[data-testid="csat-thanks"]')!;
    expect(thanks.textContent).toBe('Thank you for your feedback!');
    expect(m.shadow.activeElement).toBe(thanks);
    expect(storage.getItem(CSAT_KEY)).toBe('c1');
  });

  it('takes 409 csat_already_given as answered, and shows an error it can retry on a server failure', async () => {
    let fail = true;
    const srv = csatServer(() =>
      fail ? { status: 500, body: { code: 'internal' } } : { status: 409, body: { code: 'csat_already_given' } },
    );
    const { $ } = await resolved({ srv });
    await act(async () => $<HTMLInputElement>('[data-testid="csat-score-2"]')!.click());
    await act(async () => {
      $<HTMLButtonElement>('[data-testid="csat-submit"]')!.click();
      await settle();
    });
    expect($('.wismo-csat-error')?.textContent).toBe("We couldn't send that. Please try again.");
    expect($('.wismo-csat-error')?.getAttribute('role')).toBe('alert');
    fail = false;
    await act(async () => {
      $<HTMLButtonElement>('[data-testid="csat-submit"]')!.click();
      await settle();
    });
    expect($('[data-testid="csat-thanks"]')?.textContent).toBe('Thank you for your feedback!');
  });

  it('is not asked again after a reload once answered (remembered in localStorage)', async () => {
    const storage = new MemoryStorage();
    storage.setItem(STORAGE_KEY, JSON.stringify({ id: 'c1', token: 't1' }));
    storage.setItem(CSAT_KEY, 'c1');
    const { $ } = await resolved({ storage });
    expect($('[data-message-id="2"]')).not.toBeNull();
    expect($('[data-testid="csat"]')).toBeNull();
    expect($('[data-testid="csat-thanks"]')).toBeNull();
  });

  it('is not asked when the server says it was answered (from another device)', async () => {
    const storage = new MemoryStorage();
    storage.setItem(STORAGE_KEY, JSON.stringify({ id: 'c1', token: 't1' }));
    const srv = server({ extra: { csat: { score: 5, comment: null, created_at: '2026-01-01T00:00:00.000Z' } } });
    const { $ } = await resolved({ storage, srv });
    expect($('[data-testid="csat"]')).toBeNull();
  });

  it('asks in Spanish', async () => {
    const { $, $$ } = await resolved({}, { locale: 'es' });
    expect($('[data-testid="csat"] legend')?.textContent).toBe('¿Qué tal lo hemos hecho?');
    expect($$('input[name="wismo-csat"]')[4].getAttribute('aria-label')).toBe('5 de 5: Excelente');
    expect($('[data-testid="csat-submit"]')?.textContent).toBe('Enviar valoración');
  });
});

describe("the store's look from the server", () => {
  const LOOK = {
    title: 'Help',
    titles: { en: 'Help', es: 'Ayuda' },
    greeting: { en: 'Hi! Ask me about your order.', es: '' },
    colours: { primary: '#aa3300', background: '#101418', text: '#f5f5f5', bot_bubble: '#2a2f36', user_bubble: '#ffcc00' },
    avatar: 'https://cdn.example/a.png',
    position: 'bottom-left',
    languages: ['en', 'es'],
    quick_replies: { en: ['Where is my order?'], es: [] },
  };

  it('shows the title in the current language; setLocale changes it', async () => {
    const { m, $ } = await setup();
    expect($('#wismo-title')?.textContent).toBe('Chat with us');
    await act(async () => m.widget.applyLook(LOOK));
    expect($('#wismo-title')?.textContent).toBe('Help');
    await act(async () => m.widget.api().setLocale('es'));
    expect($('#wismo-title')?.textContent).toBe('Ayuda');
    // An older server's single title is the first language's only.
    await act(async () => m.widget.applyLook({ title: 'Acme help', languages: ['en', 'es'] }));
    expect($('#wismo-title')?.textContent).toBe('Chatea con nosotros');
    await act(async () => m.widget.api().setLocale('en'));
    expect($('#wismo-title')?.textContent).toBe('Acme help');
  });

  it('sets all five colours and the side; bad colours are ignored', async () => {
    const { m, $ } = await setup();
    const root = $('.wismo-root')!;
    const vars = (name: string) => root.style.getPropertyValue(name);
    const bad = { primary: 'red', background: 'url(x)', text: '#fff;x', bot_bubble: 1, user_bubble: '#abc' };
    await act(async () => m.widget.applyLook({ ...LOOK, colours: bad }));
    expect(vars('--wismo-accent')).toBe('');
    expect(vars('--wismo-bg')).toBe('');
    expect(vars('--wismo-fg')).toBe('');
    expect(vars('--wismo-bot-bg')).toBe('');
    expect(vars('--wismo-user-bg')).toBe('#abc');
    expect(root.getAttribute('style')).not.toContain('url(');
    await act(async () => m.widget.applyLook(LOOK));
    expect(root.className).toContain('wismo-left');
    expect(vars('--wismo-accent')).toBe('#aa3300');
    expect(vars('--wismo-on-accent')).toBe('#ffffff');
    expect(vars('--wismo-bg')).toBe('#101418');
    expect(vars('--wismo-fg')).toBe('#f5f5f5');
    expect(vars('--wismo-bot-bg')).toBe('#2a2f36');
    expect(vars('--wismo-user-bg')).toBe('#ffcc00');
    expect(vars('--wismo-on-user')).toBe('#111111');
  });

  it('keeps the attributes: colour (the accent and the shopper’s bubbles), side and language', async () => {
    const { m, $ } = await setup({
      locale: 'es',
      color: '#0a7d5a',
      explicit: { position: true, color: true, locale: true },
    });
    await act(async () => m.widget.applyLook({ ...LOOK, languages: ['en'] }));
    const root = $('.wismo-root')!;
    expect(root.style.getPropertyValue('--wismo-accent')).toBe('#0a7d5a');
    expect(root.style.getPropertyValue('--wismo-user-bg')).toBe('');
    expect(root.style.getPropertyValue('--wismo-bg')).toBe('#101418');
    expect(root.className).toContain('wismo-right');
    expect(root.getAttribute('lang')).toBe('es');
    expect($('#wismo-title')?.textContent).toBe('Ayuda');
  });

  it("speaks the store's language when the page's is not one of the store's", async () => {
    const { m, $, launcher } = await setup({ locale: 'es' });
    await act(async () => m.widget.applyLook({ ...LOOK, languages: ['en'] }));
    expect(launcher.getAttribute('aria-label')).toBe('Open chat');
    expect($('#wismo-title')?.textContent).toBe('Help');
  });

  it('shows an https: or server avatar in the header, never another kind, and hides one that fails', async () => {
    const { m, $ } = await setup({ baseUrl: 'https://chat.test' });
    const avatar = () => $<HTMLImageElement>('.wismo-header img');
    expect(avatar()).toBeNull();
    await act(async () => m.widget.applyLook(LOOK));
    expect(avatar()?.getAttribute('src')).toBe('https://cdn.example/a.png');
    expect(avatar()?.getAttribute('alt')).toBe('');
    expect(avatar()?.getAttribute('referrerpolicy')).toBe('no-referrer');
    await act(async () => m.widget.applyLook({ ...LOOK, avatar: '/static/a.png' }));
    expect(avatar()?.getAttribute('src')).toBe('https://chat.test/static/a.png');
    for (const bad of ['javascript:alert(1)', 'http://cdn.example/a.png', 'data:image/png;base64,AA', null]) {
      await act(async () => m.widget.applyLook({ ...LOOK, avatar: bad }));
      expect(avatar()).toBeNull();
    }
    await act(async () => m.widget.applyLook(LOOK));
    await act(async () => avatar()!.dispatchEvent(new Event('error')));
    expect(avatar()).toBeNull();
  });

  it("shows the store's greeting while connecting, then the server's messages (no second greeting)", async () => {
    // The server holds its answer to "start a conversation" until released.
    const srv = server();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (init?.method === 'POST' && String(input).endsWith('/v1/conversations')) await held;
      return srv.fetch(input, init);
    }) as typeof globalThis.fetch;
    const { m, $, $$, launcher, sockets } = await setup({}, { srv: { ...srv, fetch } });
    await act(async () => m.widget.applyLook(LOOK));
    await act(async () => {
      launcher.click();
      await settle();
    });
    expect($('.wismo-empty')?.textContent).toBe('Hi! Ask me about your order.');
    await act(async () => m.widget.api().setLocale('es'));
    expect($('.wismo-empty')?.textContent).toBe('Conectando…'); // no Spanish greeting set
    await act(async () => m.widget.api().setLocale('en'));
    await act(async () => {
      release();
      await settle();
    });
    await act(async () => sockets.last.ready());
    expect($('.wismo-empty')).toBeNull();
    expect($$('.wismo-msg-bot').map((e) => e.querySelector('.wismo-msg-text')?.textContent)).toEqual([GREETING.text]);
  });
});

describe('configuration from the script tag', () => {
  it('reads data-wismo-* attributes, validating each', () => {
    const s = document.createElement('script');
    s.setAttribute('src', 'https://cdn.shop.example/widget.js');
    s.setAttribute('data-wismo-locale', 'es-MX');
    s.setAttribute('data-wismo-position', 'left');
    s.setAttribute('data-wismo-color', '#0a7d5a');
    expect(readConfig(s, { href: 'https://shop.example/p/1' })).toEqual({
      baseUrl: 'https://cdn.shop.example',
      locale: 'es',
      position: 'left',
      color: '#0a7d5a',
      customerToken: null,
      explicit: { position: true, color: true, locale: true },
    });
    s.setAttribute('data-wismo-customer-token', ' eyJ.x.y ');
    expect(readConfig(s, { href: 'https://shop.example/p/1' }).customerToken).toBe('eyJ.x.y');
    s.setAttribute('data-wismo-customer-token', '  ');
    expect(readConfig(s, { href: 'https://shop.example/p/1' }).customerToken).toBeNull();
    s.setAttribute('data-wismo-server', 'https://chat.example/api/');
    s.setAttribute('data-wismo-color', 'red; background: url(x)');
    s.setAttribute('data-wismo-locale', 'fr');
    const c = readConfig(s, { href: 'https://shop.example/', lang: 'de', languages: ['fr', 'es'] });
    expect(c.baseUrl).toBe('https://chat.example/api');
    expect(c.color).toBeNull();
    expect(c.locale).toBe('es');
    expect(readConfig(null, { href: 'http://127.0.0.1:8080/' })).toMatchObject({
      baseUrl: 'http://127.0.0.1:8080',
      locale: 'en',
      position: 'right',
    });
    expect(textOn('#1f5fd6')).toBe('#ffffff');
  });
});

describe('the unread badge on the launcher', () => {
  const badge = (w: { $: (sel: string) => HTMLElement | null }) => w.$('[data-testid="unread-badge"]');
  const toggle = (launcher: HTMLButtonElement) =>
    act(async () => {
      launcher.click();
      await settle();
    });
  const DELAYED = msg(2, 'bot', 'Your parcel is delayed. The new estimate is Friday.', { proactive: true });

  /** Online with the greeting read, then the panel closed again. */
  async function closedOnline(config: Partial<WidgetConfig> = {}, opts: Parameters<typeof setup>[1] = {}) {
    const w = await setup(config, opts);
    await w.openOnline();
    await toggle(w.launcher);
    expect(w.panel.hidden).toBe(true);
    return w;
  }

  it('counts the assistant’s and agents’ messages that arrive while closed, says so in its name, and clears on open', async () => {
    const w = await closedOnline();
    const { launcher, frame, $ } = w;
    expect(badge(w)).toBeNull(); // the greeting was seen
    expect(launcher.getAttribute('aria-label')).toBe('Open chat');

    await frame({ type: 'message', message: DELAYED });
    expect(badge(w)?.textContent).toBe('1');
    expect(badge(w)?.getAttribute('aria-hidden')).toBe('true');
    expect(launcher.getAttribute('aria-label')).toBe('Open chat, 1 unread message');
    // The proactive message is in the transcript like any other, marked as an update.
    const bubble = $('[data-message-id="2"]')!;
    expect(bubble.dataset.role).toBe('bot');
    expect(bubble.dataset.proactive).toBe('true');
    expect(bubble.querySelector('.wismo-msg-label')?.textContent).toBe('Assistant · Update');
    expect(bubble.querySelector('.wismo-msg-text')?.textContent).toBe(DELAYED.text);

    await frame({ type: 'message', message: msg(3, 'agent', 'Sam here: I have chased the carrier.', { author: 'Sam' }) });
    expect(badge(w)?.textContent).toBe('2');
    expect(launcher.getAttribute('aria-label')).toBe('Open chat, 2 unread messages');

    await toggle(launcher);
    expect(badge(w)).toBeNull();
    expect(launcher.getAttribute('aria-label')).toBe('Close chat');
    // What arrives while open is read too.
    await frame({ type: 'message', message: msg(4, 'bot', 'Anything else?') });
    expect($('[data-message-id="4"]')?.dataset.proactive).toBeUndefined();
    expect($('[data-message-id="4"] .wismo-msg-label')).toBeNull();
    await toggle(launcher);
    expect(badge(w)).toBeNull();
    expect(launcher.getAttribute('aria-label')).toBe('Open chat');
  });

  it('does not count the shopper’s own messages, system notices or a message received twice', async () => {
    const w = await closedOnline();
    // The shopper's own message (written in another tab) and a notice.
    await w.frame({ type: 'message', message: msg(2, 'user', 'hello from my other tab') });
    await w.frame({ type: 'message', message: msg(3, 'system', 'Alice joined') });
    expect(badge(w)).toBeNull();
    await w.frame({ type: 'message', message: msg(4, 'bot', 'Hi again') });
    await w.frame({ type: 'message', message: msg(4, 'bot', 'Hi again') });
    expect(badge(w)?.textContent).toBe('1');
  });

  it('never counts history: the transcript of a resumed conversation, or messages replayed on reconnect', async () => {
    const storage = new MemoryStorage();
    storage.setItem(STORAGE_KEY, JSON.stringify({ id: 'c1', token: 't1' }));
    const transcript = [GREETING, msg(2, 'user', 'where is my order?'), msg(3, 'bot', 'On its way.'), DELAYED];
    transcript[3] = { ...DELAYED, id: '4' };
    const srv = server({ transcript });
    // A new tab on the same browser: the conversation resumes, closed.
    const w = await setup({}, { storage, srv });
    await act(async () => {
      await settle();
    });
    await act(async () => w.sockets.last.ready());
    expect(w.panel.hidden).toBe(true);
    expect(w.$$('.wismo-msg')).toHaveLength(4);
    expect(w.sockets.last.framesOf('resume')).toEqual([{ type: 'resume', after: '4' }]);
    // The server replays what it sent already.
    await w.frame({ type: 'message', message: transcript[2] });
    await w.frame({ type: 'message', message: transcript[3] });
    expect(badge(w)).toBeNull();
    expect(w.launcher.getAttribute('aria-label')).toBe('Open chat');

    // The socket drops and comes back: the resume's replay is not new either.
    await act(async () => w.sockets.last.drop());
    await act(async () => {
      await new Promise((r) => setTimeout(r, 600));
    });
    await act(async () => w.sockets.last.ready());
    expect(w.sockets.last.framesOf('resume')).toEqual([{ type: 'resume', after: '4' }]);
    await w.frame({ type: 'message', message: transcript[3] });
    expect(badge(w)).toBeNull();
    // Something new is.
    await w.frame({ type: 'message', message: msg(5, 'bot', 'Your parcel is out for delivery.', { proactive: true }) });
    expect(badge(w)?.textContent).toBe('1');
  });

  it('shows at most "9+", with the real number in its name', async () => {
    const w = await closedOnline();
    for (let i = 2; i <= 10; i++) await w.frame({ type: 'message', message: msg(i, 'bot', `update ${i}`) });
    expect(badge(w)?.textContent).toBe('9');
    await w.frame({ type: 'message', message: msg(11, 'bot', 'update 11') });
    expect(badge(w)?.textContent).toBe('9+');
    await w.frame({ type: 'message', message: msg(12, 'agent', 'update 12') });
    expect(badge(w)?.textContent).toBe('9+');
    expect(w.launcher.getAttribute('aria-label')).toBe('Open chat, 11 unread messages');
  });

  it('speaks Spanish', async () => {
    const w = await closedOnline({ locale: 'es' });
    await w.frame({ type: 'message', message: DELAYED });
    expect(w.launcher.getAttribute('aria-label')).toBe('Abrir chat, 1 mensaje sin leer');
    expect(w.$('[data-message-id="2"] .wismo-msg-label')?.textContent).toBe('Asistente · Actualización');
    await w.frame({ type: 'message', message: msg(3, 'bot', 'Otra cosa') });
    await w.frame({ type: 'message', message: msg(4, 'agent', 'Hola, soy Lucía', { author: 'Lucía' }) });
    expect(badge(w)?.textContent).toBe('3');
    expect(w.launcher.getAttribute('aria-label')).toBe('Abrir chat, 3 mensajes sin leer');
    await act(async () => w.m.widget.api().setLocale('en'));
    expect(w.launcher.getAttribute('aria-label')).toBe('Open chat, 3 unread messages');
  });

  it('keeps the count across a page load in the same tab (sessionStorage), until the chat is opened', async () => {
    const storage = new MemoryStorage();
    const session = new MemoryStorage();
    const srv = server({ transcript: [GREETING, DELAYED, msg(3, 'bot', 'It should arrive on Friday.')] });
    const first = await closedOnline({}, { storage, session, srv });
    await first.frame({ type: 'message', message: DELAYED });
    await first.frame({ type: 'message', message: msg(3, 'bot', 'It should arrive on Friday.') });
    expect(badge(first)?.textContent).toBe('2');
    expect(JSON.parse(session.getItem(READ_KEY)!)).toEqual({ id: 'c1', upTo: '1' });
    act(() => first.m.unmount());

    // The next page of the same tab.
    const second = await setup({}, { storage, session, srv });
    await act(async () => {
      await settle();
    });
    expect(second.$$('.wismo-msg')).toHaveLength(3);
    expect(badge(second)?.textContent).toBe('2');
    expect(second.launcher.getAttribute('aria-label')).toBe('Open chat, 2 unread messages');
    await toggle(second.launcher);
    expect(badge(second)).toBeNull();
    expect(JSON.parse(session.getItem(READ_KEY)!)).toEqual({ id: 'c1', upTo: '3' });
    act(() => second.m.unmount());

    const third = await setup({}, { storage, session, srv });
    await act(async () => {
      await settle();
    });
    expect(third.$$('.wismo-msg')).toHaveLength(3);
    expect(badge(third)).toBeNull();
  });
});
