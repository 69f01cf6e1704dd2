import { afterEach, describe, expect, it } from 'vitest';
import type { Alerts } from '../../src/console/alerts';
import { ApiError, ConsoleApi, errorMessage } from '../../src/console/api';
import { ConsoleController, SOUND_KEY } from '../../src/console/controller';
import type { Permission } from '../../src/console/notify';
import { MemoryStorage, fakeFetch, settle } from '../helpers';
import { ALICE, EventSources, cmsg, consoleServer, makeCase } from './fakes';

class FakeAlerts implements Alerts {
  played = 0;
  shown: { title: string; body: string; tag: string; onClick: () => void }[] = [];
  perm: Permission = 'default';
  requested = 0;
  play() {
    this.played++;
  }
  unlock() {}
  permission() {
    return this.perm;
  }
  async request() {
    this.requested++;
    this.perm = 'granted';
    return this.perm;
  }
  show(title: string, body: string, tag: string, onClick: () => void) {
    this.shown.push({ title, body, tag, onClick });
  }
}

let controllers: ConsoleController[] = [];
afterEach(() => {
  for (const c of controllers) c.stop();
  controllers = [];
});

function setup(opts: { signedIn?: boolean; server?: ReturnType<typeof consoleServer>; active?: boolean } = {}) {
  const srv = opts.server ?? consoleServer({ signedIn: opts.signedIn ?? true });
  const sources = new EventSources();
  const alerts = new FakeAlerts();
  const storage = new MemoryStorage();
  let now = 1_000_000;
  const c = new ConsoleController({
    fetch: srv.fetch,
    createEventSource: sources.factory,
    alerts,
    storage,
    now: () => now,
    pageActive: () => opts.active ?? false,
  });
  controllers.push(c);
  return { c, srv, sources, alerts, storage, tick: (ms: number) => (now += ms), s: () => c.store.getState() };
}

describe('the agent API', () => {
  it('sends the cookie (same-origin credentials) and JSON; reads problem+json errors', async () => {
    const f = fakeFetch((call) =>
      call.url.endsWith('/accept')
        ? { status: 409, body: { type: 'about:blank', title: 'Conflict', code: 'already_assigned', detail: 'Bob has it' } }
        : { status: 500 },
    );
    const api = new ConsoleApi({ fetch: f.fetch });
    const err = await api.accept('c_1').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'already_assigned', detail: 'Bob has it' });
    expect(f.calls[0]).toMatchObject({ url: '/v1/agent/conversations/c_1/accept', method: 'POST', credentials: 'same-origin' });
    expect(errorMessage(err, 'accept')).toBe('Another agent has already taken this case.');
    const e500 = await api.queue().catch((e) => e);
    expect(e500).toMatchObject({ status: 500, code: 'http_500' });
    expect(errorMessage(e500)).toBe('The server had a problem (500). Try again in a moment.');
    const down = new ConsoleApi({ fetch: (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch });
    expect(errorMessage(await down.me().catch((e) => e))).toBe("Can't reach the server. Check your connection and try again.");
    expect(errorMessage(new ApiError(409, 'at_capacity'), 'transfer')).toBe('That agent is at their chat limit. Choose someone else.');
    expect(errorMessage(new ApiError(409, 'at_capacity'), 'accept')).toMatch(/your chat limit/);
  });
});

describe('the console controller', () => {
  it('starts signed out without a session, signs in, opens the stream and loads canned replies', async () => {
    const { c, srv, sources, s } = setup({ signedIn: false });
    await c.start();
    expect(s().auth).toBe('signed-out');
    expect(await c.signIn('alice@example.com', 'wrong')).toBe('Wrong email or password.');
    expect(await c.signIn('  alice@example.com ', 'secret')).toBeNull();
    expect(srv.calls.filter((x) => x.url === '/v1/agent/session').map((x) => x.body.email)).toEqual([
      'alice@example.com',
      'alice@example.com',
    ]);
    expect(s().auth).toBe('signed-in');
    expect(s().me?.name).toBe('Alice');
    expect(sources.last.url).toBe('/v1/agent/stream');
    await settle();
    expect(s().canned.map((r) => r.shortcut)).toEqual(['/thanks']);
    sources.last.open();
    expect(s().stream).toBe('live');
  });

  it('rings for a new hand-off only: not for what waited at sign-in, not twice, not for my own', async () => {
    const { c, sources, alerts, s, tick } = setup();
    await c.start();
    const es = sources.last;
    es.open();
    es.emit('queue', { queue: [makeCase(1)], mine: [], agents: [] });
    es.emit('handoff', { case_id: 'H-1', conversation_id: 'c_1', reason: 'asked_for_human', priority_label: 'normal' });
    expect(alerts.played).toBe(0); // it was there when I signed in
    es.emit('queue', { queue: [makeCase(1), makeCase(2)], mine: [], agents: [] }); // the queue may come first
    es.emit('handoff', { case_id: 'H-2', conversation_id: 'c_2', reason: 'negative_sentiment', priority_label: 'high' });
    expect(alerts.played).toBe(1);
    expect(alerts.shown).toHaveLength(0); // permission not granted
    expect(c.getAnnouncement().text).toBe('New hand-off H-2: Upset shopper, high priority.');
    es.emit('handoff', { case_id: 'H-2', conversation_id: 'c_2', reason: 'negative_sentiment', priority_label: 'high' });
    expect(alerts.played).toBe(1);
    // A case I just handed back and that came back to the queue.
    await c.release('c_1').catch(() => null);
    tick(1000);
    es.emit('handoff', { case_id: 'H-8', conversation_id: 'c_1', reason: 'asked_for_human', priority_label: 'low' });
    expect(alerts.played).toBe(1);
    // Desktop notifications once allowed (from the button), clicking opens the case.
    expect(await c.enableNotifications()).toBe('granted');
    expect(c.getPrefs().permission).toBe('granted');
    es.emit('handoff', { case_id: 'H-9', conversation_id: 'c_9', reason: 'bot_error', priority_label: 'normal' });
    expect(alerts.played).toBe(2);
    expect(alerts.shown.map((n) => [n.title, n.body])).toEqual([['New hand-off H-9', 'Bot error · Normal priority']]);
    alerts.shown[0].onClick();
    expect(s().openId).toBe('c_9');
    // Sound off: remembered.
    c.setSound(false);
    es.emit('handoff', { case_id: 'H-10', conversation_id: 'c_10', reason: 'bot_error', priority_label: 'normal' });
    expect(alerts.played).toBe(2);
    expect(alerts.shown).toHaveLength(2);
  });

  it('remembers the sound setting', () => {
    const { c, storage } = setup();
    c.setSound(false);
    expect(storage.getItem(SOUND_KEY)).toBe('off');
  });

  it('on activity in the open conversation fetches what is after the last id and merges it', async () => {
    const { c, srv, sources, s } = setup();
    await c.start();
    await c.open('c_3');
    expect(s().conversations.c_3.messages.map((m) => m.id)).toEqual(['1', '2', '3']);
    srv.state.messages.c_3.push(cmsg(4, 'user', 'hello?'), cmsg(5, 'bot', 'one moment'));
    sources.last.emit('activity', { conversation_id: 'c_3', seq: 5 });
    await settle();
    const gets = srv.calls.filter((x) => x.url.startsWith('/v1/agent/conversations/c_3')).map((x) => x.url);
    expect(gets).toEqual(['/v1/agent/conversations/c_3', '/v1/agent/conversations/c_3?after=3']);
    expect(s().conversations.c_3.messages.map((m) => m.id)).toEqual(['1', '2', '3', '4', '5']);
    // Old news (a seq already held) fetches nothing; another conversation is marked unread.
    sources.last.emit('activity', { conversation_id: 'c_3', seq: '4' });
    sources.last.emit('activity', { conversation_id: 'c_8', seq: '1' });
    await settle();
    expect(srv.calls.filter((x) => x.url.startsWith('/v1/agent/conversations/')).length).toBe(2);
    expect(s().unread).toEqual({ c_8: true });
  });

  it('accepts, replies, adds notes, and refuses a reply to a case that is not mine', async () => {
    const { c, srv, s } = setup();
    await c.start();
    await c.open('c_3');
    expect(await c.send('c_3', 'hello', false)).toBe("This case isn't assigned to you. Accept it before replying.");
    expect(await c.send('c_3', 'looks like a repeat buyer', true)).toBeNull();
    expect(await c.accept('c_3')).toBeNull();
    expect(s().mine.map((x) => x.case_id)).toEqual(['H-3']);
    expect(c.getAnnouncement().text).toBe('You accepted case H-3.');
    expect(await c.send('c_3', '  Hi, I am Alice.  ', false)).toBeNull();
    const posts = srv.calls.filter((x) => x.method === 'POST' && /\/(messages|notes)$/.test(x.url));
    expect(posts.map((x) => [x.url, x.body])).toEqual([
      ['/v1/agent/conversations/c_3/notes', { text: 'looks like a repeat buyer' }],
      ['/v1/agent/conversations/c_3/messages', { text: 'Hi, I am Alice.' }],
    ]);
    const roles = s().conversations.c_3.messages.map((m) => m.role);
    expect(roles.slice(-2)).toEqual(['note', 'agent']);
  });

  it('a 401 on any action ends the session; the stream giving up checks the session', async () => {
    const { c, srv, sources, s } = setup();
    await c.start();
    srv.state.signedIn = false;
    sources.last.fail(true);
    await settle();
    expect(s().auth).toBe('signed-out');
    expect(s().authNotice).toBe('Your session has ended. Sign in again.');
    expect(sources.last.closed).toBe(true);
  });

  it('signs out: DELETE the session, close the stream', async () => {
    const { c, srv, sources, s } = setup();
    await c.start();
    await c.signOut();
    expect(srv.calls.some((x) => x.method === 'DELETE' && x.url === '/v1/agent/session')).toBe(true);
    expect(sources.last.closed).toBe(true);
    expect(s().auth).toBe('signed-out');
  });

  it('keeps its agent when the stream reconnects after a network drop', async () => {
    const { c, sources, s } = setup();
    await c.start();
    sources.last.open();
    sources.last.fail(false);
    expect(s().stream).toBe('reconnecting');
    sources.last.open();
    expect(s().stream).toBe('live');
    expect(s().me).toMatchObject({ id: ALICE.id });
  });
});
