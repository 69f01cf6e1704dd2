// The connection to the wismo server: creates or resumes the conversation,
// keeps one WebSocket open (reconnecting with backoff), sends the shopper's
// messages through a queue that survives reconnects, and feeds everything the
// server says into the ChatStore. The WebSocket factory, fetch, storage, ids
// and randomness are injected, so all of it is tested without a browser.

import { lastMessageId, type ChatStore } from './store';
import type { ClientFrame, Locale, SavedConversation, ServerFrame } from './types';

/** The part of a WebSocket the client uses. */
/** The server's largest WebSocket frame (bigger ones close the socket with 1009). */
export const MAX_FRAME_BYTES = 64 * 1024;

export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Where the conversation is kept between page loads. */
export const STORAGE_KEY = 'wismo.conversation';
/** The id of the conversation whose "How did we do?" was answered. */
export const CSAT_KEY = 'wismo.csat';
/** In sessionStorage: the conversation and the last message id the shopper
 * has read in this tab (`{"id":"c1","upTo":"7"}`), so the unread badge
 * survives a page load. */
export const READ_KEY = 'wismo.read';

/** How a CSAT answer went: `ok` (or it had been given already: the same to
 * the shopper), `invalid` (the server refused the score), `error` (try again). */
export type CsatResult = 'ok' | 'invalid' | 'error';
export const PROTOCOL = 'wismo.v1';

export interface ClientOptions {
  /** The server's base URL, e.g. `https://shop.example` (no trailing path). */
  baseUrl: string;
  store: ChatStore;
  fetch?: typeof fetch;
  createSocket?: SocketFactory;
  storage?: StorageLike | null;
  /** Where the read mark is kept (default: sessionStorage). */
  session?: StorageLike | null;
  /** Fresh `client_message_id`s. */
  newId?: () => string;
  /** In [0, 1): the jitter of the backoff. */
  random?: () => number;
  locale?: () => Locale;
  /** Sent with a new conversation. */
  metadata?: () => Record<string, unknown>;
  /** Reconnect delays: base * 2^attempt, at most max, times 0.5 to 1. */
  backoff?: { base: number; max: number };
  /** A ping every `interval` ms; no frame within `timeout` ms drops the socket. */
  heartbeat?: { interval: number; timeout: number };
}

interface Outgoing {
  clientId: string;
  text: string;
}

type SyncResult = 'ok' | 'gone' | 'error';

function defaultId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  let s = '';
  for (let i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

function defaultStorage(kind: 'localStorage' | 'sessionStorage'): StorageLike | null {
  try {
    return globalThis[kind] ?? null;
  } catch {
    return null; // storage blocked (third-party cookies off, sandboxed iframes)
  }
}

/** `ws(s)://host/v1/conversations/{id}/ws` for a base URL `http(s)://host`. */
export function socketUrl(baseUrl: string, conversationId: string): string {
  const u = new URL(`v1/conversations/${encodeURIComponent(conversationId)}/ws`, withSlash(baseUrl));
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}

export class WismoClient {
  private readonly opts: Required<Omit<ClientOptions, 'storage' | 'session'>> & {
    storage: StorageLike | null;
    session: StorageLike | null;
  };
  private conv: SavedConversation | null = null;
  private socket: SocketLike | null = null;
  private ready = false;
  private everOnline = false;
  private authFailed = false;
  /** Verify the token over HTTP (and fetch what was missed) before the next socket. */
  private needsCheck = false;
  /** A conversation is wanted: the panel was opened or something was sent. */
  private wanted = false;
  private busy = false;
  private stopped = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private queue: Outgoing[] = [];
  private identity: string | null = null;
  /** The conversation id the identity token was accepted for. */
  private identifiedAs: string | null = null;
  /** The read mark last written to the session storage. */
  private savedRead = '';
  private unsubscribe: () => void = () => {};

  constructor(options: ClientOptions) {
    const o = options;
    this.opts = {
      baseUrl: o.baseUrl,
      store: o.store,
      fetch: o.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      createSocket:
        o.createSocket ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike),
      storage: o.storage === undefined ? defaultStorage('localStorage') : o.storage,
      session: o.session === undefined ? defaultStorage('sessionStorage') : o.session,
      newId: o.newId ?? defaultId,
      random: o.random ?? Math.random,
      locale: o.locale ?? (() => 'en'),
      metadata: o.metadata ?? (() => ({})),
      backoff: o.backoff ?? { base: 500, max: 15000 },
      heartbeat: o.heartbeat ?? { interval: 25000, timeout: 10000 },
    };
    this.unsubscribe = this.store.subscribe(() => this.saveRead());
  }

  private get store(): ChatStore {
    return this.opts.store;
  }

  /** Resumes the conversation kept from an earlier page, if there is one. */
  start(): void {
    const saved = this.load();
    if (!saved) return;
    this.conv = saved;
    this.store.dispatch({ type: 'conversation', id: saved.id, fresh: false });
    if (this.storageGet(CSAT_KEY) === saved.id) this.store.dispatch({ type: 'csat', state: 'answered' });
    const read = this.loadRead();
    if (read && read.id === saved.id) this.store.dispatch({ type: 'read', upTo: read.upTo });
    this.needsCheck = true;
    this.pump();
  }

  /** The shopper wants to talk: make sure there is a conversation and a socket. */
  open(): void {
    this.wanted = true;
    this.pump();
  }

  /** Sends a message (shown at once as pending); returns its client_message_id. */
  send(text: string): string | null {
    const t = text.trim();
    if (!t) return null;
    const clientId = this.opts.newId();
    this.store.dispatch({ type: 'pending', clientId, text: t });
    this.enqueue({ clientId, text: t });
    return clientId;
  }

  /** Sends a failed message again, with the same client_message_id. */
  retry(clientId: string): void {
    const p = this.store.getState().pending.find((x) => x.clientId === clientId);
    if (!p || this.queue.some((q) => q.clientId === clientId)) return;
    this.store.dispatch({ type: 'retry', clientId });
    this.enqueue({ clientId, text: p.text });
  }

  /** Tells the other side whether the shopper is typing (only while online). */
  typing(on: boolean): void {
    if (this.ready) this.write({ type: 'typing', on });
  }

  /** Answers "How did we do?" (score 1 to 5, an optional comment) for this conversation. */
  async submitCsat(score: number, comment?: string): Promise<CsatResult> {
    const conv = this.conv;
    if (!conv || !Number.isInteger(score) || score < 1 || score > 5) return 'invalid';
    const body: { score: number; comment?: string } = { score };
    const c = comment?.trim().slice(0, 1000);
    if (c) body.comment = c;
    let status: number;
    let code: unknown = null;
    try {
      const res = await this.opts.fetch(
        `${withSlash(this.opts.baseUrl)}v1/conversations/${encodeURIComponent(conv.id)}/csat`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${conv.token}` },
          body: JSON.stringify(body),
        },
      );
      status = res.status;
      if (!res.ok) code = ((await res.json().catch(() => null)) as { code?: unknown } | null)?.code ?? null;
    } catch {
      return 'error';
    }
    if (status === 201 || status === 200 || (status === 409 && code === 'csat_already_given')) {
      try {
        this.opts.storage?.setItem(CSAT_KEY, conv.id);
      } catch {
        /* not remembered past this page */
      }
      if (this.conv === conv) this.store.dispatch({ type: 'csat', state: 'thanked' });
      return 'ok';
    }
    return status === 422 || status === 400 ? 'invalid' : 'error';
  }

  /**
   * A signed-in shopper's customer token (a JWT from the store's site): sent
   * with a new conversation, or to the identity endpoint of the current one.
   * `null` forgets it (conversations already signed in stay signed in).
   */
  identify(token: string | null): void {
    this.identity = token;
    this.identifiedAs = null;
    if (token && this.conv && !this.needsCheck) void this.sendIdentity();
  }

  get identityToken(): string | null {
    return this.identity;
  }

  get conversation(): SavedConversation | null {
    return this.conv;
  }

  /** Messages written but not yet acknowledged by the server. */
  get queued(): ReadonlyArray<Readonly<Outgoing>> {
    return this.queue;
  }

  /** The browser says the network is back: try now instead of waiting. */
  networkOnline(): void {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.pump();
  }

  /** The browser says the network is gone: the socket will not survive it. */
  networkOffline(): void {
    if (this.socket) this.drop();
  }

  /** Closes everything; the client does nothing more. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.stopHeartbeat();
    const s = this.socket;
    this.socket = null;
    this.ready = false;
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      try {
        s.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
  }

  // ---- internals

  private enqueue(item: Outgoing): void {
    this.queue.push(item);
    this.wanted = true;
    if (this.ready) this.write({ type: 'message', text: item.text, client_message_id: item.clientId });
    else this.pump();
  }

  private storageGet(key: string): string | null {
    try {
      return this.opts.storage?.getItem(key) ?? null;
    } catch {
      return null;
    }
  }

  /** The read mark kept by an earlier page of this tab. */
  private loadRead(): { id: string; upTo: string } | null {
    try {
      const raw = this.opts.session?.getItem(READ_KEY);
      if (!raw) return null;
      const v = JSON.parse(raw) as { id?: unknown; upTo?: unknown };
      if (typeof v.id === 'string' && typeof v.upTo === 'string') return { id: v.id, upTo: v.upTo };
    } catch {
      /* unreadable: the history counts as read */
    }
    return null;
  }

  private saveRead(): void {
    const { conversationId: id, readUpTo: upTo } = this.store.getState();
    if (!id || upTo === null) return;
    const value = JSON.stringify({ id, upTo });
    if (value === this.savedRead) return;
    this.savedRead = value;
    try {
      this.opts.session?.setItem(READ_KEY, value);
    } catch {
      /* blocked: the badge lasts as long as the page */
    }
  }

  private load(): SavedConversation | null {
    try {
      const raw = this.opts.storage?.getItem(STORAGE_KEY);
      if (!raw) return null;
      const v = JSON.parse(raw) as Partial<SavedConversation>;
      if (typeof v.id === 'string' && typeof v.token === 'string' && v.id && v.token) {
        return { id: v.id, token: v.token };
      }
    } catch {
      /* unreadable: start afresh */
    }
    return null;
  }

  private save(conv: SavedConversation | null): void {
    try {
      if (conv) this.opts.storage?.setItem(STORAGE_KEY, JSON.stringify(conv));
      else this.opts.storage?.removeItem(STORAGE_KEY);
    } catch {
      /* storage full or blocked: the conversation lasts as long as the page */
    }
  }

  private setStatus(): void {
    const status = this.ready ? 'online' : this.everOnline ? 'reconnecting' : 'connecting';
    this.store.dispatch({ type: 'connection', status });
  }

  /** Takes the next step towards an open socket; does nothing while one is under way. */
  private pump(): void {
    if (this.stopped || this.socket || this.timer !== null || this.busy) return;
    if (!this.conv) {
      if (!this.wanted) return;
      this.setStatus();
      this.busy = true;
      void this.create().then((ok) => {
        this.busy = false;
        if (ok) this.pump();
        else this.retryLater();
      });
      return;
    }
    this.setStatus();
    if (this.needsCheck) {
      this.busy = true;
      void this.sync().then((r) => {
        this.busy = false;
        if (r === 'gone') {
          // The conversation is gone or the token is wrong: start a new one.
          this.conv = null;
          this.save(null);
          this.wanted = true;
          this.needsCheck = false;
          this.pump();
        } else if (r === 'ok') {
          this.needsCheck = false;
          if (this.identity) void this.sendIdentity();
          this.pump();
        } else {
          this.retryLater();
        }
      });
      return;
    }
    this.openSocket();
  }

  private retryLater(): void {
    if (this.stopped || this.timer !== null) return;
    this.setStatus();
    const { base, max } = this.opts.backoff;
    const delay = Math.min(max, base * 2 ** Math.min(this.attempt, 16)) * (0.5 + this.opts.random() / 2);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delay);
  }

  private async create(): Promise<boolean> {
    const identity = this.identity;
    const body: Record<string, unknown> = {
      channel: 'web',
      locale: this.opts.locale(),
      metadata: this.opts.metadata(),
    };
    if (identity) body.customer_token = identity;
    try {
      const res = await this.opts.fetch(`${withSlash(this.opts.baseUrl)}v1/conversations`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        // A refused customer token (expired, …): carry on anonymously
        // rather than not at all; the page may identify() again.
        if (identity && this.identity === identity && (res.status === 401 || res.status === 422)) {
          this.identity = null;
        }
        return false;
      }
      const data = (await res.json()) as { id?: unknown; token?: unknown; messages?: unknown };
      if (typeof data.id !== 'string' || typeof data.token !== 'string') return false;
      if (this.stopped) return false;
      this.conv = { id: data.id, token: data.token };
      this.identifiedAs = identity && this.identity === identity ? data.id : null;
      this.save(this.conv);
      this.needsCheck = false;
      this.store.dispatch({ type: 'conversation', id: data.id, fresh: true });
      if (Array.isArray(data.messages)) {
        this.store.dispatch({ type: 'messages', messages: data.messages, history: true });
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Signs the current conversation in with the identity token. One signed
   * in as another customer (another shopper on this browser) is left for a
   * new conversation.
   */
  private async sendIdentity(): Promise<void> {
    const conv = this.conv;
    const token = this.identity;
    if (!conv || !token || this.identifiedAs === conv.id) return;
    try {
      const res = await this.opts.fetch(
        `${withSlash(this.opts.baseUrl)}v1/conversations/${encodeURIComponent(conv.id)}/identity`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${conv.token}` },
          body: JSON.stringify({ customer_token: token }),
        },
      );
      if (this.conv !== conv || this.identity !== token) return;
      if (res.ok) {
        this.identifiedAs = conv.id;
      } else if (res.status === 409) {
        this.forgetConversation();
      }
    } catch {
      /* offline: the next page load tries again */
    }
  }

  /** Drops the conversation: the next step starts a new one. */
  private forgetConversation(): void {
    const s = this.socket;
    this.socket = null;
    this.ready = false;
    this.stopHeartbeat();
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      try {
        s.close(1000, 'signed in as someone else');
      } catch {
        /* already closed */
      }
    }
    this.conv = null;
    this.save(null);
    this.wanted = true;
    this.pump();
  }

  /** Reads what was missed over HTTP; tells whether the token still works. */
  private async sync(): Promise<SyncResult> {
    const conv = this.conv;
    if (!conv) return 'gone';
    const after = lastMessageId(this.store.getState());
    const url =
      `${withSlash(this.opts.baseUrl)}v1/conversations/${encodeURIComponent(conv.id)}` +
      (after ? `?after=${encodeURIComponent(after)}` : '');
    try {
      const res = await this.opts.fetch(url, {
        headers: { Authorization: `Bearer ${conv.token}` },
      });
      if (res.status === 401 || res.status === 403 || res.status === 404) return 'gone';
      if (!res.ok) return 'error';
      const data = (await res.json()) as { messages?: unknown; handoff?: unknown; csat?: unknown };
      if (this.conv !== conv || this.stopped) return 'error';
      if (Array.isArray(data.messages)) {
        this.store.dispatch({ type: 'messages', messages: data.messages, history: true });
      }
      if (data.handoff) this.store.dispatch({ type: 'handoff', handoff: data.handoff });
      if (data.csat && typeof data.csat === 'object') this.store.dispatch({ type: 'csat', state: 'answered' });
      return 'ok';
    } catch {
      return 'error';
    }
  }

  private openSocket(): void {
    const conv = this.conv;
    if (!conv) return;
    this.ready = false;
    this.authFailed = false;
    let s: SocketLike;
    try {
      s = this.opts.createSocket(socketUrl(this.opts.baseUrl, conv.id), [
        PROTOCOL,
        `bearer.${conv.token}`,
      ]);
    } catch {
      this.needsCheck = true;
      this.retryLater();
      return;
    }
    this.socket = s;
    s.onmessage = (ev) => {
      if (this.socket === s) this.onFrame(ev.data);
    };
    s.onclose = (ev) => {
      if (this.socket !== s) return;
      // 1009: a frame over the server's size limit. Resending it would only
      // close the socket again: fail it with the reason instead.
      if (ev && ev.code === 1009) this.failTooBig();
      this.closed();
    };
    s.onerror = () => {
      /* a close event follows */
    };
  }

  /** Gives up on the current socket (dead or offline) and reconnects. */
  private drop(): void {
    const s = this.socket;
    if (!s) return;
    s.onclose = s.onmessage = s.onerror = s.onopen = null;
    try {
      s.close(4000, 'reconnecting');
    } catch {
      /* already closed */
    }
    this.closed();
  }

  /** Fails the queued messages too big for a frame (or, if none is, the last one). */
  private failTooBig(): void {
    const size = (q: Outgoing) =>
      new TextEncoder().encode(JSON.stringify({ type: 'message', text: q.text, client_message_id: q.clientId })).length;
    let big = this.queue.filter((q) => size(q) > MAX_FRAME_BYTES);
    if (big.length === 0 && this.queue.length > 0) big = [this.queue[this.queue.length - 1]];
    for (const q of big) {
      this.queue = this.queue.filter((x) => x.clientId !== q.clientId);
      this.store.dispatch({ type: 'failed', clientId: q.clientId, error: 'message_too_big' });
    }
  }

  private closed(): void {
    const wasReady = this.ready;
    this.socket = null;
    this.ready = false;
    this.stopHeartbeat();
    // A socket refused before it was ready may mean the token is no longer
    // good (the upgrade is answered 401, which a browser cannot see): ask.
    if (!wasReady || this.authFailed) this.needsCheck = true;
    if (this.stopped) return;
    this.retryLater();
  }

  private write(frame: ClientFrame): void {
    if (!this.socket) return;
    try {
      this.socket.send(JSON.stringify(frame));
    } catch {
      this.drop();
    }
  }

  private onFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let f: ServerFrame;
    try {
      f = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    this.alive();
    switch (f.type) {
      case 'ready': {
        this.ready = true;
        this.everOnline = true;
        this.attempt = 0;
        this.setStatus();
        if (f.handoff) this.store.dispatch({ type: 'handoff', handoff: f.handoff });
        // Everything after the last message seen, then what waits to be sent,
        // with the client_message_ids it was first given.
        const after = lastMessageId(this.store.getState()) ?? '0';
        this.write({ type: 'resume', after });
        for (const q of this.queue) {
          this.write({ type: 'message', text: q.text, client_message_id: q.clientId });
        }
        this.startHeartbeat();
        break;
      }
      case 'message':
        this.store.dispatch({ type: 'messages', messages: [f.message] });
        break;
      case 'typing':
        this.store.dispatch({ type: 'typing', role: f.role, on: !!f.on });
        break;
      case 'handoff':
        this.store.dispatch({ type: 'handoff', handoff: f.handoff });
        break;
      case 'ack':
        if (typeof f.client_message_id === 'string') {
          const cid = f.client_message_id;
          this.queue = this.queue.filter((q) => q.clientId !== cid);
          if (typeof f.id === 'string') this.store.dispatch({ type: 'ack', clientId: cid, id: f.id });
        }
        break;
      case 'error':
        if (typeof f.client_message_id === 'string') {
          const cid = f.client_message_id;
          this.queue = this.queue.filter((q) => q.clientId !== cid);
          this.store.dispatch({ type: 'failed', clientId: cid, error: String(f.code) });
        } else if (f.code === 'unauthorized') {
          this.authFailed = true;
        }
        break;
      default:
        break; // pong and anything newer
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const { interval, timeout } = this.opts.heartbeat;
    this.pingTimer = setInterval(() => {
      if (!this.ready) return;
      this.write({ type: 'ping' });
      if (this.pongTimer === null) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = null;
          this.drop();
        }, timeout);
      }
    }, interval);
  }

  private alive(): void {
    if (this.pongTimer !== null) {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
  }

  private stopHeartbeat(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.alive();
  }
}
