import { describe, expect, it } from 'vitest';
import { compareIds } from '../src/ids';
import {
  currentQuickReplies,
  initialState,
  reducer,
  shouldAskCsat,
  unreadCount,
  type Action,
  type ChatState,
} from '../src/store';
import { GREETING, msg } from './helpers';

function run(...actions: Action[]): ChatState {
  return actions.reduce(reducer, initialState);
}

const ids = (s: ChatState) => s.messages.map((m) => m.id);

describe('message list', () => {
  it('orders messages by numeric id, not as strings', () => {
    const s = run({ type: 'messages', messages: [msg(10, 'bot', 'ten'), msg(9, 'user', 'nine'), msg(100, 'bot', 'hundred'), msg(2, 'bot', 'two')] });
    expect(ids(s)).toEqual(['2', '9', '10', '100']);
    expect(compareIds('0012', '12')).toBe(0);
    expect(compareIds('99999999999999999999', '100000000000000000000')).toBeLessThan(0);
  });

  it('never shows a message twice (same id from the transcript, a resume and the live stream)', () => {
    const s = run(
      { type: 'messages', messages: [GREETING, msg(2, 'user', 'hi'), msg(3, 'bot', 'hello')] },
      { type: 'messages', messages: [msg(3, 'bot', 'hello'), msg(4, 'bot', 'more')] },
      { type: 'messages', messages: [msg(2, 'user', 'hi')] },
      { type: 'messages', messages: [msg(4, 'bot', 'more')] },
    );
    expect(ids(s)).toEqual(['1', '2', '3', '4']);
  });

  it('drops malformed messages and keeps only string quick replies', () => {
    const s = run({
      type: 'messages',
      messages: [
        { id: 'abc', role: 'bot', text: 'bad id' },
        { id: '5', role: 'bot' },
        null,
        { id: '6', role: 'bot', text: 'ok', quick_replies: ['Yes', 3, '', 'No'] },
      ],
    });
    expect(ids(s)).toEqual(['6']);
    expect(s.messages[0].quick_replies).toEqual(['Yes', 'No']);
  });
});

describe('optimistic messages', () => {
  const base: Action = { type: 'messages', messages: [GREETING] };

  it('shows a pending message, then replaces it with the echoed server message', () => {
    let s = run(base, { type: 'pending', clientId: 'a', text: 'where is my order?' });
    expect(s.pending).toHaveLength(1);
    expect(s.pending[0].status).toBe('sending');
    s = reducer(s, { type: 'messages', messages: [msg(2, 'user', 'where is my order?')] });
    expect(s.pending).toHaveLength(0);
    expect(ids(s)).toEqual(['1', '2']);
    // The ack that follows the echo changes nothing.
    const after = reducer(s, { type: 'ack', clientId: 'a', id: '2' });
    expect(after).toBe(s);
  });

  it('matches by the ack id when the ack comes before the message', () => {
    let s = run(base, { type: 'pending', clientId: 'a', text: 'hello' }, { type: 'ack', clientId: 'a', id: '7' });
    expect(s.pending[0].serverId).toBe('7');
    // Another tab's identical text does not take its place…
    s = reducer(s, { type: 'messages', messages: [msg(6, 'user', 'hello')] });
    expect(s.pending).toHaveLength(1);
    // …its own id does.
    s = reducer(s, { type: 'messages', messages: [msg(7, 'user', 'hello')] });
    expect(s.pending).toHaveLength(0);
    expect(ids(s)).toEqual(['1', '6', '7']);
  });

  it('an older message with the same text is not taken for the echo', () => {
    let s = run(base, { type: 'pending', clientId: 'a', text: 'Where is my order?' });
    // Re-delivered history (id 1) cannot be the echo of something written after it.
    s = reducer(s, { type: 'messages', messages: [msg(1, 'user', 'Where is my order?')] });
    expect(s.pending).toHaveLength(1);
  });

  it('marks a refused message as failed and back to sending on retry', () => {
    let s = run(base, { type: 'pending', clientId: 'a', text: 'x' }, { type: 'failed', clientId: 'a', error: 'message_too_long' });
    expect(s.pending[0]).toMatchObject({ status: 'failed', error: 'message_too_long' });
    s = reducer(s, { type: 'retry', clientId: 'a' });
    expect(s.pending[0].status).toBe('sending');
  });

  it('a new conversation clears the old messages but keeps what the server never took', () => {
    const s = run(
      base,
      { type: 'pending', clientId: 'a', text: 'acked' },
      { type: 'ack', clientId: 'a', id: '2' },
      { type: 'pending', clientId: 'b', text: 'unsent' },
      { type: 'handoff', handoff: { status: 'queued', reason: 'asked' } },
      { type: 'conversation', id: 'c2', fresh: true },
    );
    expect(s.messages).toEqual([]);
    expect(s.handoff.status).toBe('none');
    expect(s.pending.map((p) => p.clientId)).toEqual(['b']);
    expect(s.pending[0].afterId).toBeNull();
  });
});

describe('quick replies, typing and hand-off', () => {
  it('offers quick replies only under the latest message when it is the bot’s', () => {
    let s = run({ type: 'messages', messages: [GREETING] });
    expect(currentQuickReplies(s)).toEqual(GREETING.quick_replies);
    s = reducer(s, { type: 'pending', clientId: 'a', text: 'Start a return' });
    expect(currentQuickReplies(s)).toEqual([]);
    s = reducer(s, { type: 'messages', messages: [msg(2, 'user', 'Start a return')] });
    expect(currentQuickReplies(s)).toEqual([]);
  });

  it('the bot stops “typing” when its message arrives', () => {
    let s = run({ type: 'typing', role: 'bot', on: true });
    expect(s.typing).toBe('bot');
    s = reducer(s, { type: 'typing', role: 'user', on: true });
    expect(s.typing).toBe('bot');
    s = reducer(s, { type: 'messages', messages: [msg(3, 'bot', 'done')] });
    expect(s.typing).toBeNull();
  });

  it('reads hand-off states and ignores unknown ones', () => {
    expect(run({ type: 'handoff', handoff: { status: 'assigned', reason: null, agent: 'Ana' } }).handoff).toEqual({
      status: 'assigned',
      reason: null,
      agent: 'Ana',
    });
    expect(run({ type: 'handoff', handoff: { status: 'weird' } }).handoff.status).toBe('none');
  });

  it('reads the case id and the expected wait of a queued hand-off', () => {
    expect(
      run({ type: 'handoff', handoff: { status: 'queued', reason: 'asked_for_human', case_id: 'H-3', agent: null, wait_seconds: 120 } })
        .handoff,
    ).toEqual({ status: 'queued', reason: 'asked_for_human', case_id: 'H-3', wait_seconds: 120 });
    const h = run({ type: 'handoff', handoff: { status: 'queued', case_id: 7, wait_seconds: -1 } }).handoff;
    expect(h.case_id).toBeUndefined();
    expect(h.wait_seconds).toBeUndefined();
  });

  it('never keeps an internal note, and takes system messages', () => {
    const s = run({
      type: 'messages',
      messages: [{ ...msg(2, 'bot', 'private'), role: 'note' }, msg(3, 'system', 'Alice joined')],
    });
    expect(s.messages.map((m) => [m.id, m.role])).toEqual([['3', 'system']]);
  });
});

describe('How did we do?', () => {
  it('is asked once a person resolved the case, until answered; a new conversation asks afresh', () => {
    let s = run({ type: 'conversation', id: 'c1', fresh: true });
    expect(shouldAskCsat(s)).toBe(false);
    s = reducer(s, { type: 'handoff', handoff: { status: 'resolved' } });
    expect(shouldAskCsat(s)).toBe(true);
    s = reducer(s, { type: 'csat', state: 'thanked' });
    expect(shouldAskCsat(s)).toBe(false);
    // Told later that it was answered (the resync): the thank-you stays.
    expect(reducer(s, { type: 'csat', state: 'answered' })).toBe(s);
    s = reducer(s, { type: 'conversation', id: 'c2', fresh: true });
    expect(s.csat).toBeNull();
    expect(s.handoff.status).toBe('none');
  });
});

describe('unread messages (the launcher badge)', () => {
  const history = (...messages: unknown[]): Action => ({ type: 'messages', messages, history: true });
  const live = (...messages: unknown[]): Action => ({ type: 'messages', messages });

  it('counts bot and agent messages after the first history while closed, not the shopper’s or notices', () => {
    let s = run({ type: 'conversation', id: 'c1', fresh: false }, history(GREETING, msg(2, 'bot', 'old news')));
    expect(s.readUpTo).toBe('2');
    expect(unreadCount(s)).toBe(0);
    s = reducer(s, live(msg(3, 'bot', 'Your parcel is delayed', { proactive: true }), msg(4, 'user', 'ok'), msg(5, 'system', 'x')));
    expect(unreadCount(s)).toBe(1);
    s = reducer(s, live(msg(6, 'agent', 'Sam here'), msg(3, 'bot', 'Your parcel is delayed', { proactive: true })));
    expect(unreadCount(s)).toBe(2); // the replayed 3 counts once
    // A later catch-up over HTTP (after a drop) is not "first history": it counts.
    s = reducer(s, history(msg(7, 'bot', 'missed while offline')));
    expect(unreadCount(s)).toBe(3);
  });

  it('opening reads everything; while open nothing is unread; a new conversation starts afresh', () => {
    let s = run(history(GREETING), live(msg(2, 'bot', 'a')));
    expect(unreadCount(s)).toBe(1);
    s = reducer(s, { type: 'panel', open: true });
    expect(unreadCount(s)).toBe(0);
    s = reducer(s, live(msg(3, 'bot', 'b')));
    expect(s.readUpTo).toBe('3');
    s = reducer(s, { type: 'panel', open: false });
    expect(unreadCount(s)).toBe(0);
    s = reducer(s, { type: 'conversation', id: 'c2', fresh: true });
    expect(s.readUpTo).toBeNull();
    s = reducer(s, history(msg(1, 'bot', 'Hi from c2')));
    expect(unreadCount(s)).toBe(0);
  });

  it('a read mark kept from an earlier page makes later history unread', () => {
    const s = run(
      { type: 'conversation', id: 'c1', fresh: false },
      { type: 'read', upTo: '1' },
      history(GREETING, msg(2, 'bot', 'delayed', { proactive: true }), msg(3, 'agent', 'hi')),
    );
    expect(unreadCount(s)).toBe(2);
    expect(run({ type: 'read', upTo: 'nope' }).readUpTo).toBeNull();
  });

  it('keeps the proactive flag on bot messages only', () => {
    const s = run(live({ ...msg(2, 'bot', 'x'), proactive: true }, { ...msg(3, 'user', 'y'), proactive: true }, { ...msg(4, 'bot', 'z'), proactive: 'yes' }));
    expect(s.messages.map((m) => m.proactive)).toEqual([true, undefined, undefined]);
  });
});
