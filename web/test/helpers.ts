// Fakes for the client's injected dependencies: a WebSocket the test drives
// from the server side, a fetch that answers from a handler, and storage.

import type { SocketLike, StorageLike } from '../src/client';
import type { Message } from '../src/types';

export class FakeSocket implements SocketLike {
  sent: any[] = [];
  closed = false;
  onopen: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: any) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  send(data: string): void {
    if (this.closed) throw new Error('socket closed');
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closed = true;
  }

  /** A frame from the server. */
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The server accepts: `ready`. */
  ready(handoff: unknown = { status: 'none', reason: null }): void {
    this.onopen?.({});
    this.receive({ type: 'ready', conversation_id: 'c1', handoff });
  }

  /** The connection drops (or the upgrade is refused). */
  drop(): void {
    this.closed = true;
    this.onerror?.({});
    this.onclose?.({ code: 1006 });
  }

  framesOf(type: string): any[] {
    return this.sent.filter((f) => f.type === type);
  }
}

export class Sockets {
  all: FakeSocket[] = [];
  factory = (url: string, protocols: string[]): SocketLike => {
    const s = new FakeSocket(url, protocols);
    this.all.push(s);
    return s;
  };
  get last(): FakeSocket {
    const s = this.all[this.all.length - 1];
    if (!s) throw new Error('no socket was opened');
    return s;
  }
}

export interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: any;
  credentials?: RequestCredentials;
}

export type Handler = (call: Call) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

export function fakeFetch(handler: Handler) {
  const calls: Call[] = [];
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const call: Call = {
      url: String(input),
      method: (init.method ?? 'GET').toUpperCase(),
      headers: (init.headers ?? {}) as Record<string, string>,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      credentials: init.credentials,
    };
    calls.push(call);
    const r = await handler(call);
    return {
      ok: r.status >= 200 && r.status < 300,
      status: r.status,
      json: async () => r.body,
    } as Response;
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

export class MemoryStorage implements StorageLike {
  data = new Map<string, string>();
  getItem(k: string): string | null {
    return this.data.has(k) ? (this.data.get(k) as string) : null;
  }
  setItem(k: string, v: string): void {
    this.data.set(k, v);
  }
  removeItem(k: string): void {
    this.data.delete(k);
  }
}

export function msg(id: number | string, role: Message['role'], text: string, extra: Partial<Message> = {}): Message {
  return { id: String(id), role, text, created_at: '2026-01-01T00:00:00.000Z', ...extra };
}

export const GREETING = msg(1, 'bot', 'Hi! How can I help?', {
  quick_replies: ['Where is my order?', 'Start a return', 'Talk to a person'],
});

/** A server that creates conversation c1 (token t1) and knows it. */
export function server(
  opts: {
    known?: Record<string, string>;
    transcript?: Message[];
    /** Answers first; return undefined to fall through to the usual routes. */
    handle?: (call: Call) => { status: number; body?: unknown } | undefined;
    /** Extra fields of GET /v1/conversations/{id}. */
    extra?: Record<string, unknown>;
  } = {},
) {
  const known: Record<string, string> = { c1: 't1', ...(opts.known ?? {}) };
  let created = 0;
  const f = fakeFetch((call) => {
    const custom = opts.handle?.(call);
    if (custom) return custom;
    if (call.method === 'POST' && call.url.endsWith('/v1/conversations')) {
      created++;
      const id = created === 1 ? 'c1' : `c${created}`;
      known[id] = `t${created}`;
      return { status: 201, body: { id, token: known[id], locale: call.body?.locale ?? null, messages: [GREETING] } };
    }
    const m = call.url.match(/\/v1\/conversations\/([^/?]+)(?:\?after=(\d+))?$/);
    if (call.method === 'GET' && m) {
      const token = (call.headers.Authorization ?? '').replace(/^Bearer /, '');
      if (known[m[1]] !== token) return { status: 401, body: { code: 'unauthorized' } };
      const after = Number(m[2] ?? 0);
      const messages = (opts.transcript ?? [GREETING]).filter((x) => Number(x.id) > after);
      return { status: 200, body: { messages, handoff: { status: 'none', reason: null }, ...(opts.extra ?? {}) } };
    }
    return { status: 404, body: {} };
  });
  return { ...f, known, get created() { return created; } };
}

/** Lets pending promises (fake fetch answers) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
