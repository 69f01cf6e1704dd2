// Fakes for the console: an EventSource the test drives, and a small agent
// API server over the fake fetch.

import type { EventSourceLike } from '../../src/console/stream';
import type { Case, ConsoleMessage, OrderDetail } from '../../src/console/types';
import { fakeFetch, type Call } from '../helpers';

export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((ev: MessageEvent) => void)[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, l: (ev: MessageEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }

  close(): void {
    this.closed = true;
    this.readyState = 2;
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  emit(type: string, data: unknown, id = ''): void {
    const ev = {
      data: typeof data === 'string' ? data : JSON.stringify(data),
      lastEventId: id,
    } as MessageEvent;
    for (const l of this.listeners.get(type) ?? []) l(ev);
  }

  /** The connection failed; `gaveUp` as after a non-200 answer. */
  fail(gaveUp: boolean): void {
    this.readyState = gaveUp ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
}

export class EventSources {
  all: FakeEventSource[] = [];
  factory = (url: string) => {
    const es = new FakeEventSource(url);
    this.all.push(es);
    return es;
  };
  get last(): FakeEventSource {
    const es = this.all[this.all.length - 1];
    if (!es) throw new Error('no EventSource was opened');
    return es;
  }
}

export const ALICE = {
  id: 'a_1',
  name: 'Alice',
  email: 'alice@example.com',
  role: 'agent',
  max_chats: 3,
  languages: ['en', 'es'],
};

export function makeCase(n: number, extra: Partial<Case> = {}): Case {
  return {
    case_id: `H-${n}`,
    conversation_id: `c_${n}`,
    status: 'queued',
    reason: 'asked_for_human',
    priority: 10,
    priority_label: 'normal',
    requested_at: '2026-11-24T12:00:00.000Z',
    waiting_seconds: 30,
    agent: null,
    locale: 'en',
    intent: 'track_order',
    sentiment: { last: -0.6, trend: [0.1, -0.2, -0.6] },
    order: null,
    contact_email: null,
    offline: false,
    last_message: { role: 'user', text: 'I want a person', created_at: '2026-11-24T12:00:00.000Z' },
    ...extra,
  };
}

export function cmsg(id: number, role: ConsoleMessage['role'], text: string, extra: Partial<ConsoleMessage> = {}): ConsoleMessage {
  return { id: String(id), role, text, created_at: '2026-11-24T12:00:00.000Z', ...extra };
}

export const ORDER: OrderDetail = {
  order_number: '1001',
  state: 'shipped',
  placed_at: '2026-11-20T09:00:00.000Z',
  total: '129.00',
  currency: 'USD',
  email: 'jane@example.com',
  items: [{ name: 'Merino Wool Sweater', quantity: 1, price: '129.00' }],
  shipping_address: { name: 'Jane Doe', line1: '1 Main St', city: 'Springfield', country: 'US' },
  carrier: 'USPS',
  tracking_number: '9400',
  tracking_url: 'https://tools.usps.com/go/TrackConfirmAction?tLabels=9400',
  eta: 'Friday',
};

export interface FakeApiState {
  signedIn: boolean;
  password: string;
  queue: Case[];
  mine: Case[];
  agents: { id: string; name: string; online: boolean; active_chats: number; max_chats: number }[];
  messages: Record<string, ConsoleMessage[]>;
  canned: { id: string; shortcut: string; title: string; text: string }[];
  nextSeq: number;
}

/** An agent API with Alice (password "secret"), a queue and canned replies.
 * `override` answers first (return undefined to fall through). */
export function consoleServer(
  init: Partial<FakeApiState> = {},
  override?: (call: Call, s: FakeApiState) => { status: number; body?: unknown } | undefined,
) {
  const s: FakeApiState = {
    signedIn: false,
    password: 'secret',
    queue: [makeCase(3)],
    mine: [],
    agents: [
      { id: 'a_1', name: 'Alice', online: true, active_chats: 0, max_chats: 3 },
      { id: 'a_2', name: 'Bob', online: true, active_chats: 1, max_chats: 3 },
      { id: 'a_3', name: 'Cleo', online: false, active_chats: 0, max_chats: 2 },
    ],
    messages: {
      c_3: [cmsg(1, 'bot', 'Hi! How can I help?'), cmsg(2, 'user', 'I want a person'), cmsg(3, 'system', 'Waiting for a person')],
    },
    canned: [{ id: '1', shortcut: '/thanks', title: 'Thanks', text: 'Thanks for waiting!' }],
    nextSeq: 100,
    ...init,
  };
  const findCase = (id: string) => [...s.queue, ...s.mine].find((c) => c.conversation_id === id) ?? null;
  const f = fakeFetch((call) => {
    const o = override?.(call, s);
    if (o) return o;
    const path = new URL(call.url, 'http://console.test').pathname;
    const query = new URL(call.url, 'http://console.test').searchParams;
    const route = `${call.method} ${path}`;
    if (route === 'POST /v1/agent/session') {
      if (call.body?.email === ALICE.email && call.body?.password === s.password) {
        s.signedIn = true;
        return { status: 200, body: { token: 'tok', agent: ALICE } };
      }
      return { status: 401, body: { code: 'invalid_credentials', title: 'Unauthorized' } };
    }
    if (!s.signedIn) return { status: 401, body: { code: 'unauthorized' } };
    if (route === 'DELETE /v1/agent/session') {
      s.signedIn = false;
      return { status: 204 };
    }
    if (route === 'GET /v1/agent/me') return { status: 200, body: ALICE };
    if (route === 'GET /v1/agent/queue') return { status: 200, body: { queue: s.queue, mine: s.mine, agents: s.agents } };
    if (route === 'GET /v1/agent/canned-replies') return { status: 200, body: { replies: s.canned } };
    if (route === 'POST /v1/agent/canned-replies') {
      const reply = { id: String(s.canned.length + 10), ...call.body };
      s.canned.push(reply);
      return { status: 201, body: { reply } };
    }
    let m = path.match(/^\/v1\/agent\/canned-replies\/([^/]+)$/);
    if (m && call.method === 'DELETE') {
      s.canned = s.canned.filter((r) => r.id !== m![1]);
      return { status: 204 };
    }
    m = path.match(/^\/v1\/agent\/conversations\/([^/]+)(?:\/([a-z]+))?$/);
    if (m) {
      const [, id, action] = m;
      const c = findCase(id);
      const msgs = s.messages[id] ?? [];
      if (!action && call.method === 'GET') {
        const after = Number(query.get('after') ?? 0);
        return {
          status: 200,
          body: {
            conversation: { id, locale: 'en', channel: 'web', created_at: '2026-11-24T11:59:00.000Z' },
            case: c,
            messages: msgs.filter((x) => Number(x.id) > after),
            order: id === 'c_3' ? ORDER : null,
          },
        };
      }
      const add = (role: ConsoleMessage['role']) => {
        const message = cmsg(s.nextSeq++, role, call.body.text, { agent: 'Alice' });
        s.messages[id] = [...msgs, message];
        return { status: 201, body: { message } };
      };
      switch (action) {
        case 'accept': {
          if (!c) return { status: 404, body: { code: 'not_found' } };
          const taken = { ...c, status: 'assigned' as const, agent: { id: 'a_1', name: 'Alice' } };
          s.queue = s.queue.filter((x) => x.conversation_id !== id);
          s.mine = [...s.mine, taken];
          return { status: 200, body: { case: taken } };
        }
        case 'messages':
          if (!s.mine.some((x) => x.conversation_id === id)) return { status: 403, body: { code: 'not_assigned' } };
          return add('agent');
        case 'notes':
          return add('note');
        case 'typing':
          return { status: 204 };
        case 'transfer':
        case 'release':
        case 'resolve': {
          if (!c) return { status: 404, body: { code: 'not_found' } };
          const status = action === 'transfer' ? 'assigned' : action === 'release' ? 'released' : 'resolved';
          const agent = action === 'transfer' ? { id: call.body.agent_id, name: 'Bob' } : c.agent;
          const out = { ...c, status: status as Case['status'], agent };
          s.mine = s.mine.filter((x) => x.conversation_id !== id);
          return { status: 200, body: { case: out } };
        }
      }
    }
    return { status: 404, body: { code: 'not_found' } };
  });
  return { ...f, state: s };
}
