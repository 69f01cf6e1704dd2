import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CSAT_KEY, STORAGE_KEY, WismoClient, socketUrl } from '../src/client';
import { ChatStore } from '../src/store';
import { GREETING, MemoryStorage, Sockets, msg, server, settle } from './helpers';

function setup(opts: { saved?: { id: string; token: string }; srv?: ReturnType<typeof server> } = {}) {
  const store = new ChatStore();
  const sockets = new Sockets();
  const storage = new MemoryStorage();
  if (opts.saved) storage.setItem(STORAGE_KEY, JSON.stringify(opts.saved));
  const srv = opts.srv ?? server();
  let n = 0;
  const client = new WismoClient({
    baseUrl: 'https://shop.example',
    store,
    fetch: srv.fetch,
    createSocket: sockets.factory,
    storage,
    session: new MemoryStorage(),
    newId: () => `cm-${++n}`,
    random: () => 0.5,
    locale: () => 'es',
    metadata: () => ({ page: 'https://shop.example/boots' }),
  });
  return { store, sockets, storage, srv, client };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('starting a conversation', () => {
  it('creates one when the shopper opens the chat, keeps it, and connects with the token as a subprotocol', async () => {
    const { client, sockets, storage, srv, store } = setup();
    client.start();
    await settle();
    expect(srv.calls).toHaveLength(0); // nothing asked of the server before the shopper opens the chat
    client.open();
    await settle();
    expect(srv.calls[0]).toMatchObject({
      method: 'POST',
      url: 'https://shop.example/v1/conversations',
      body: { channel: 'web', locale: 'es', metadata: { page: 'https://shop.example/boots' } },
    });
    expect(JSON.parse(storage.getItem(STORAGE_KEY)!)).toEqual({ id: 'c1', token: 't1' });
    expect(store.getState().messages.map((m) => m.text)).toEqual([GREETING.text]);
    const s = sockets.last;
    expect(s.url).toBe('wss://shop.example/v1/conversations/c1/ws');
    expect(s.url).not.toContain('t1');
    expect(s.protocols).toEqual(['wismo.v1', 'bearer.t1']);
    s.ready();
    expect(s.framesOf('resume')).toEqual([{ type: 'resume', after: '1' }]);
    expect(store.getState().connection).toBe('online');
  });

  it('resumes the saved conversation on page load from its transcript', async () => {
    const srv = server({ transcript: [GREETING, msg(2, 'user', 'hi'), msg(3, 'bot', 'hello')] });
    const { client, sockets, store } = setup({ saved: { id: 'c1', token: 't1' }, srv });
    client.start();
    await settle();
    expect(srv.calls).toHaveLength(1);
    expect(srv.calls[0]).toMatchObject({ method: 'GET', url: 'https://shop.example/v1/conversations/c1' });
    expect(srv.calls[0].headers.Authorization).toBe('Bearer t1');
    expect(store.getState().messages.map((m) => m.id)).toEqual(['1', '2', '3']);
    sockets.last.ready();
    expect(sockets.last.framesOf('resume')).toEqual([{ type: 'resume', after: '3' }]);
  });

  it('starts a new conversation when the saved one answers 401', async () => {
    const { client, sockets, storage, srv, store } = setup({ saved: { id: 'gone', token: 'old' } });
    client.start();
    await settle();
    expect(srv.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
    expect(JSON.parse(storage.getItem(STORAGE_KEY)!)).toEqual({ id: 'c1', token: 't1' });
    expect(store.getState().conversationId).toBe('c1');
    expect(sockets.last.protocols).toEqual(['wismo.v1', 'bearer.t1']);
  });

  it('a socket refused before it is ready is checked over HTTP; a 401 there starts a new conversation', async () => {
    const srv = server({ known: { c9: 't9' } });
    const { client, sockets, store, storage } = setup({ saved: { id: 'c9', token: 't9' }, srv });
    client.start();
    await settle();
    sockets.last.ready();
    // The conversation is deleted on the server: the socket drops and the
    // next upgrade is refused (a browser sees only a close).
    delete srv.known.c9;
    srv.calls.length = 0;
    sockets.last.drop();
    expect(store.getState().connection).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(sockets.all).toHaveLength(2);
    expect(srv.calls).toHaveLength(0); // a healthy socket dropped: straight back, no HTTP
    sockets.last.drop();
    await vi.advanceTimersByTimeAsync(2000);
    expect(srv.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
    expect(store.getState().conversationId).toBe('c1');
    expect(store.getState().messages.map((m) => m.text)).toEqual([GREETING.text]);
    expect(JSON.parse(storage.getItem(STORAGE_KEY)!).id).toBe('c1');
    expect(sockets.last.protocols[1]).toBe('bearer.t1');
  });
});

describe('reconnecting', () => {
  async function online() {
    const ctx = setup();
    ctx.client.open();
    await settle();
    ctx.sockets.last.ready();
    return ctx;
  }

  it('reconnects with growing, capped backoff and resumes after the last message id seen', async () => {
    const { client, sockets, store } = await online();
    sockets.last.receive({ type: 'message', message: msg(2, 'user', 'hi') });
    sockets.last.receive({ type: 'message', message: msg(3, 'bot', 'hello') });
    sockets.last.drop();
    expect(store.getState().connection).toBe('reconnecting');
    // random() = 0.5 → delays are 0.75 × 500 · 2^attempt, at most 0.75 × 15000.
    await vi.advanceTimersByTimeAsync(374);
    expect(sockets.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.all).toHaveLength(2);
    sockets.last.drop(); // refused: HTTP check (ok), then the next try after 750 ms
    await vi.advanceTimersByTimeAsync(749);
    expect(sockets.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.all).toHaveLength(3);
    for (let i = 0; i < 8; i++) {
      sockets.last.drop();
      await vi.advanceTimersByTimeAsync(11250);
    }
    expect(sockets.all).toHaveLength(11);
    sockets.last.drop(); // capped: 0.75 × 15 s
    await vi.advanceTimersByTimeAsync(11249);
    expect(sockets.all).toHaveLength(11);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.all).toHaveLength(12);
    sockets.last.ready();
    expect(store.getState().connection).toBe('online');
    expect(sockets.last.framesOf('resume')).toEqual([{ type: 'resume', after: '3' }]);
    client.stop();
  });

  it('queues messages written while offline and sends them on reconnect with the same client_message_id', async () => {
    const { client, sockets, store } = await online();
    const first = sockets.last;
    first.drop();
    const a = client.send('where is my order?');
    const b = client.send('  #1001  ');
    expect(store.getState().pending.map((p) => [p.text, p.status])).toEqual([
      ['where is my order?', 'sending'],
      ['#1001', 'sending'],
    ]);
    await vi.advanceTimersByTimeAsync(400);
    const second = sockets.last;
    expect(second).not.toBe(first);
    second.ready();
    expect(second.sent.map((f) => f.type)).toEqual(['resume', 'message', 'message']);
    expect(second.framesOf('message')).toEqual([
      { type: 'message', text: 'where is my order?', client_message_id: a },
      { type: 'message', text: '#1001', client_message_id: b },
    ]);
    // Dropped again before any ack: the same ids go out again.
    second.drop();
    await vi.advanceTimersByTimeAsync(400);
    const third = sockets.last;
    third.ready();
    expect(third.framesOf('message').map((f) => f.client_message_id)).toEqual([a, b]);
    // The server lands each once: the echoes and acks clear the pending ones.
    third.receive({ type: 'message', message: msg(2, 'user', 'where is my order?') });
    third.receive({ type: 'ack', client_message_id: a, id: '2' });
    third.receive({ type: 'message', message: msg(3, 'user', '#1001') });
    third.receive({ type: 'ack', client_message_id: b, id: '3' });
    expect(store.getState().pending).toEqual([]);
    expect(client.queued).toEqual([]);
    expect(store.getState().messages.map((m) => m.id)).toEqual(['1', '2', '3']);
    // A later reconnect sends nothing again.
    third.drop();
    await vi.advanceTimersByTimeAsync(400);
    sockets.last.ready();
    expect(sockets.last.framesOf('message')).toEqual([]);
    expect(sockets.last.framesOf('resume')).toEqual([{ type: 'resume', after: '3' }]);
  });

  it('a message sent on a live socket is sent at once, and again after a drop if never acknowledged', async () => {
    const { client, sockets, store } = await online();
    const id = client.send('hello');
    expect(sockets.last.framesOf('message')).toEqual([{ type: 'message', text: 'hello', client_message_id: id }]);
    sockets.last.drop();
    await vi.advanceTimersByTimeAsync(400);
    sockets.last.ready();
    // The server had taken it: the resume re-delivers it, the retry is acked with the same id.
    sockets.last.receive({ type: 'message', message: msg(2, 'user', 'hello') });
    sockets.last.receive({ type: 'ack', client_message_id: id, id: '2' });
    expect(sockets.last.framesOf('message')).toEqual([{ type: 'message', text: 'hello', client_message_id: id }]);
    expect(store.getState().messages.filter((m) => m.text === 'hello')).toHaveLength(1);
    expect(store.getState().pending).toEqual([]);
  });

  it('drops a silent socket when a ping gets no answer, and reconnects', async () => {
    const { sockets } = await online();
    const first = sockets.last;
    await vi.advanceTimersByTimeAsync(25000);
    expect(first.framesOf('ping')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(9999);
    expect(first.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(400);
    expect(sockets.all).toHaveLength(2);
  });

  it('a pong keeps the socket', async () => {
    const { sockets } = await online();
    await vi.advanceTimersByTimeAsync(25000);
    sockets.last.receive({ type: 'pong' });
    await vi.advanceTimersByTimeAsync(20000);
    expect(sockets.last.closed).toBe(false);
    expect(sockets.all).toHaveLength(1);
  });

  it('the network coming back reconnects at once', async () => {
    const { client, sockets } = await online();
    client.networkOffline();
    expect(sockets.last.closed).toBe(true);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(20000);
      sockets.last.drop();
    }
    const n = sockets.all.length;
    client.networkOnline();
    await settle();
    expect(sockets.all.length).toBe(n + 1);
  });
});

describe('server answers', () => {
  it('a refused message is marked failed and retried with the same client_message_id', async () => {
    const { client, sockets, store } = setup();
    client.open();
    await settle();
    sockets.last.ready();
    const id = client.send('x'.repeat(10))!;
    sockets.last.receive({ type: 'error', code: 'timeout', message: 'Request timed out', client_message_id: id });
    expect(store.getState().pending[0]).toMatchObject({ status: 'failed', error: 'timeout' });
    expect(client.queued).toEqual([]);
    client.retry(id);
    expect(store.getState().pending[0].status).toBe('sending');
    expect(sockets.last.framesOf('message').map((f) => f.client_message_id)).toEqual([id, id]);
  });

  it('a socket closed with 1009 (frame too big) fails that message with the reason and does not resend it', async () => {
    const { client, sockets, store } = setup();
    client.open();
    await settle();
    sockets.last.ready();
    const id = client.send('y'.repeat(70 * 1024))!;
    const s = sockets.last;
    s.closed = true;
    s.onclose?.({ code: 1009, reason: 'message too big: the limit is 64 KiB' });
    expect(store.getState().pending[0]).toMatchObject({ clientId: id, status: 'failed', error: 'message_too_big' });
    expect(client.queued).toEqual([]);
    await vi.advanceTimersByTimeAsync(20000);
    await settle();
    sockets.last.ready();
    expect(sockets.last.framesOf('message')).toEqual([]);
  });

  it('passes typing and hand-off frames to the store, and sends the shopper’s typing', async () => {
    const { client, sockets, store } = setup();
    client.typing(true); // offline: not queued
    client.open();
    await settle();
    sockets.last.ready();
    sockets.last.receive({ type: 'typing', role: 'bot', on: true });
    expect(store.getState().typing).toBe('bot');
    sockets.last.receive({ type: 'handoff', handoff: { status: 'queued', reason: 'asked for a person' } });
    expect(store.getState().handoff.status).toBe('queued');
    client.typing(true);
    expect(sockets.last.framesOf('typing')).toEqual([{ type: 'typing', on: true }]);
  });

  it('builds ws:// and wss:// URLs from the base URL', () => {
    expect(socketUrl('http://127.0.0.1:8080', 'c_1')).toBe('ws://127.0.0.1:8080/v1/conversations/c_1/ws');
    expect(socketUrl('https://chat.example/wismo/', 'c 2')).toBe('wss://chat.example/wismo/v1/conversations/c%202/ws');
  });
});

describe('How did we do?', () => {
  it('posts the score with the conversation token; 422 is invalid, nothing is sent without a conversation or a 1–5 score', async () => {
    let status = 422;
    const srv = server({
      handle: (call) => (call.url.endsWith('/csat') ? { status, body: { code: 'invalid_score' } } : undefined),
    });
    const { client, store, storage } = setup({ saved: { id: 'c1', token: 't1' }, srv });
    expect(await client.submitCsat(3)).toBe('invalid'); // no conversation started yet
    client.start();
    await settle();
    expect(await client.submitCsat(0)).toBe('invalid');
    expect(await client.submitCsat(4.5)).toBe('invalid');
    expect(srv.calls.filter((c) => c.url.endsWith('/csat'))).toHaveLength(0);
    expect(await client.submitCsat(5, 'x'.repeat(1200))).toBe('invalid');
    const call = srv.calls.find((c) => c.url.endsWith('/csat'))!;
    expect(call.url).toBe('https://shop.example/v1/conversations/c1/csat');
    expect(call.headers.Authorization).toBe('Bearer t1');
    expect(call.body.comment).toHaveLength(1000);
    expect(store.getState().csat).toBeNull();
    status = 201;
    expect(await client.submitCsat(5)).toBe('ok');
    expect(srv.calls.filter((c) => c.url.endsWith('/csat')).pop()!.body).toEqual({ score: 5 });
    expect(store.getState().csat).toBe('thanked');
    expect(storage.getItem(CSAT_KEY)).toBe('c1');
  });
});

describe('signed-in shoppers', () => {
  it('sends the customer token with a new conversation', async () => {
    const { client, srv } = setup();
    client.identify('jwt-1');
    client.open();
    await settle();
    expect(srv.calls[0]).toMatchObject({
      method: 'POST',
      url: 'https://shop.example/v1/conversations',
      body: { channel: 'web', customer_token: 'jwt-1' },
    });
    // Already signed in at creation: no identity call.
    expect(srv.calls.filter((c) => c.url.endsWith('/identity'))).toHaveLength(0);
  });

  it('signs in a conversation resumed from storage, once, with its bearer token', async () => {
    const srv = server({
      handle: (call) => (call.url.endsWith('/identity') ? { status: 200, body: { signed_in: true } } : undefined),
    });
    const { client } = setup({ saved: { id: 'c1', token: 't1' }, srv });
    client.identify('jwt-2');
    client.start();
    await settle();
    const calls = srv.calls.filter((c) => c.url.endsWith('/identity'));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      method: 'POST',
      url: 'https://shop.example/v1/conversations/c1/identity',
      body: { customer_token: 'jwt-2' },
    });
    expect(calls[0].headers.Authorization).toBe('Bearer t1');
    // Identifying later with a new token (the store refreshed it) sends it again.
    client.identify('jwt-3');
    await settle();
    expect(srv.calls.filter((c) => c.url.endsWith('/identity')).map((c) => c.body.customer_token)).toEqual([
      'jwt-2',
      'jwt-3',
    ]);
  });

  it('starts a new conversation when the stored one belongs to another customer (409)', async () => {
    const srv = server({
      known: { old: 'tok' },
      handle: (call) =>
        call.url.endsWith('/identity') ? { status: 409, body: { code: 'already_signed_in' } } : undefined,
    });
    const { client, storage, store } = setup({ saved: { id: 'old', token: 'tok' }, srv });
    client.identify('jwt-b');
    client.start();
    await settle();
    await settle();
    const created = srv.calls.filter((c) => c.method === 'POST' && c.url.endsWith('/v1/conversations'));
    expect(created).toHaveLength(1);
    expect(created[0].body.customer_token).toBe('jwt-b');
    expect(JSON.parse(storage.getItem(STORAGE_KEY)!)).toEqual({ id: 'c1', token: 't1' });
    expect(store.getState().conversationId).toBe('c1');
  });

  it('goes on anonymously when the server refuses the customer token', async () => {
    let refused = 0;
    const srv = server({
      handle: (call) =>
        call.method === 'POST' && call.url.endsWith('/v1/conversations') && call.body?.customer_token
          ? (refused++, { status: 401, body: { code: 'invalid_customer_token' } })
          : undefined,
    });
    const { client, storage } = setup({ srv });
    client.identify('expired-jwt');
    client.open();
    await settle();
    await vi.advanceTimersByTimeAsync(1000);
    expect(refused).toBe(1);
    const posts = srv.calls.filter((c) => c.method === 'POST' && c.url.endsWith('/v1/conversations'));
    expect(posts).toHaveLength(2);
    expect(posts[1].body.customer_token).toBeUndefined();
    expect(JSON.parse(storage.getItem(STORAGE_KEY)!)).toEqual({ id: 'c1', token: 't1' });
  });
});
