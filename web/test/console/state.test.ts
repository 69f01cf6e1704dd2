import { describe, expect, it } from 'vitest';
import { normalizeCase, normalizeSnapshot } from '../../src/console/normalize';
import {
  consoleReducer,
  initialConsoleState,
  isMine,
  transferTargets,
  type ConsoleAction,
  type ConsoleState,
} from '../../src/console/state';
import type { ConversationView } from '../../src/console/types';
import { ALICE, cmsg, makeCase } from './fakes';

const me = { ...ALICE, role: 'agent' as const };

function run(...actions: ConsoleAction[]): ConsoleState {
  return actions.reduce(consoleReducer, { ...initialConsoleState });
}

const view = (id: string, messages = [cmsg(1, 'bot', 'hi')], extra: Partial<ConversationView> = {}): ConversationView => ({
  conversation: { id, locale: 'en', channel: 'web', created_at: null },
  case: null,
  messages,
  order: null,
  ...extra,
});

describe('console state', () => {
  it('signing in starts clean; signing out forgets everything but the notice', () => {
    let s = run({ type: 'signed-in', agent: me }, { type: 'open', id: 'c_1' });
    expect(s.auth).toBe('signed-in');
    expect(s.openId).toBe('c_1');
    s = consoleReducer(s, { type: 'signed-out', notice: 'Your session has ended. Sign in again.' });
    expect(s).toEqual({ ...initialConsoleState, auth: 'signed-out', authNotice: 'Your session has ended. Sign in again.' });
  });

  it('sorts the queue; what waits in the first snapshot is seen, later arrivals are not', () => {
    const first = normalizeSnapshot({
      queue: [makeCase(1, { priority: 1 }), makeCase(2, { priority: 50, priority_label: 'high' })],
      mine: [],
      agents: [],
    });
    let s = run({ type: 'signed-in', agent: me }, { type: 'snapshot', snapshot: first, at: 5 });
    expect(s.queue.map((c) => c.case_id)).toEqual(['H-2', 'H-1']);
    expect(s.seen).toEqual({ 'H-1': true, 'H-2': true });
    expect(s.snapshotAt).toBe(5);
    s = consoleReducer(s, { type: 'snapshot', snapshot: { ...first, queue: [...first.queue, makeCase(3)] }, at: 9 });
    expect(s.seen['H-3']).toBeUndefined();
  });

  it('merges a conversation’s messages from loads and sends; keeps the order if a later load has none', () => {
    let s = run({ type: 'signed-in', agent: me }, { type: 'open', id: 'c_1' });
    expect(s.conversations.c_1.status).toBe('loading');
    s = consoleReducer(s, { type: 'loaded', id: 'c_1', view: view('c_1', [cmsg(2, 'user', 'a'), cmsg(10, 'bot', 'b')], { order: { order_number: '1', state: '', placed_at: null, total: '', currency: '', email: null, items: [], shipping_address: null, carrier: null, tracking_number: null, tracking_url: null, eta: null } }) });
    s = consoleReducer(s, { type: 'message', id: 'c_1', message: cmsg(11, 'agent', 'hello') });
    s = consoleReducer(s, { type: 'loaded', id: 'c_1', view: view('c_1', [cmsg(11, 'agent', 'hello'), cmsg(12, 'user', 'thx'), cmsg(9, 'system', 'x')]) });
    const e = s.conversations.c_1;
    expect(e.messages.map((m) => m.id)).toEqual(['2', '9', '10', '11', '12']);
    expect(e.order?.order_number).toBe('1');
    expect(e.status).toBe('ready');
  });

  it('an accepted case moves from the queue to mine at once; resolved leaves both', () => {
    const c = normalizeCase(makeCase(4))!;
    let s = run({ type: 'signed-in', agent: me }, { type: 'snapshot', snapshot: { queue: [c], mine: [], agents: [] }, at: 0 }, { type: 'open', id: 'c_4' });
    expect(s.conversations.c_4.case?.status).toBe('queued');
    const taken = { ...c, status: 'assigned' as const, agent: { id: 'a_1', name: 'Alice' } };
    s = consoleReducer(s, { type: 'case', case: taken });
    expect(s.queue).toEqual([]);
    expect(s.mine.map((x) => x.case_id)).toEqual(['H-4']);
    expect(isMine(s, s.conversations.c_4.case)).toBe(true);
    s = consoleReducer(s, { type: 'case', case: { ...taken, status: 'resolved' } });
    expect(s.mine).toEqual([]);
    expect(s.conversations.c_4.case?.status).toBe('resolved');
    expect(isMine(s, s.conversations.c_4.case)).toBe(false);
  });

  it('marks activity on conversations not open as unread, cleared by opening', () => {
    let s = run({ type: 'signed-in', agent: me }, { type: 'open', id: 'c_1' }, { type: 'activity', id: 'c_1' }, { type: 'activity', id: 'c_2' });
    expect(s.unread).toEqual({ c_2: true });
    s = consoleReducer(s, { type: 'open', id: 'c_2' });
    expect(s.unread).toEqual({});
  });

  it('keeps canned replies sorted by shortcut; offers online agents other than me for transfers', () => {
    let s = run(
      { type: 'signed-in', agent: me },
      { type: 'canned', replies: [{ id: '2', shortcut: '/z', title: 'Z', text: 'z' }, { id: '1', shortcut: '/a', title: 'A', text: 'a' }] },
      { type: 'canned-added', reply: { id: '3', shortcut: '/m', title: 'M', text: 'm' } },
      { type: 'canned-removed', id: '2' },
    );
    expect(s.canned.map((r) => r.shortcut)).toEqual(['/a', '/m']);
    s = consoleReducer(s, {
      type: 'snapshot',
      at: 0,
      snapshot: {
        queue: [],
        mine: [],
        agents: [
          { id: 'a_1', name: 'Alice', online: true, active_chats: 0, max_chats: 3 },
          { id: 'a_4', name: 'Dan', online: true, active_chats: 2, max_chats: 2 },
          { id: 'a_2', name: 'Bob', online: true, active_chats: 1, max_chats: 3 },
          { id: 'a_3', name: 'Cleo', online: false, active_chats: 0, max_chats: 3 },
        ],
      },
    });
    expect(transferTargets(s).map((a) => a.name)).toEqual(['Bob', 'Dan']);
  });

  it('reads what the server sends defensively', () => {
    expect(normalizeCase({ case_id: 'H-1' })).toBeNull();
    const c = normalizeCase({ case_id: 'H-1', conversation_id: 'c_1', priority_label: 'urgent', sentiment: { trend: [1, 'x', 0.5] } })!;
    expect(c.priority_label).toBe('normal');
    expect(c.sentiment).toEqual({ last: null, trend: [1, 0.5] });
    expect(c.status).toBe('queued');
    expect(normalizeSnapshot(null)).toEqual({ queue: [], mine: [], agents: [] });
  });
});
