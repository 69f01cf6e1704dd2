// The console's state: who is signed in, the live queue, my conversations,
// the roster, the conversations opened (their transcripts merged by id) and
// the canned replies. A plain reducer, tested without a browser.

import { ReducerStore } from '../reducerStore';
import { sortQueue } from './format';
import { mergeMessages } from './transcript';
import type {
  Agent,
  CannedReply,
  Case,
  ConsoleMessage,
  ConversationMeta,
  ConversationView,
  OrderDetail,
  QueueSnapshot,
  RosterAgent,
} from './types';

export interface ConversationEntry {
  id: string;
  meta: ConversationMeta | null;
  case: Case | null;
  order: OrderDetail | null;
  messages: ConsoleMessage[];
  status: 'loading' | 'ready' | 'error';
  error: string | null;
}

export type StreamStatus = 'off' | 'connecting' | 'live' | 'reconnecting';

export interface ConsoleState {
  auth: 'checking' | 'signed-out' | 'signed-in';
  me: Agent | null;
  /** Shown on the sign-in form, e.g. "Your session has ended". */
  authNotice: string | null;
  stream: StreamStatus;
  queue: Case[];
  mine: Case[];
  agents: RosterAgent[];
  /** When the latest snapshot arrived (ms), for the ticking waits. */
  snapshotAt: number;
  haveSnapshot: boolean;
  /** Case ids already known (no notification for them). */
  seen: Record<string, true>;
  openId: string | null;
  conversations: Record<string, ConversationEntry>;
  /** Conversations with activity not looked at yet. */
  unread: Record<string, true>;
  canned: CannedReply[];
  /** When I last acted on a conversation (ms). */
  ownActions: Record<string, number>;
}

export type ConsoleAction =
  | { type: 'checking' }
  | { type: 'signed-in'; agent: Agent }
  | { type: 'signed-out'; notice?: string | null }
  | { type: 'stream'; status: StreamStatus }
  | { type: 'snapshot'; snapshot: QueueSnapshot; at: number }
  | { type: 'seen'; caseId: string }
  | { type: 'open'; id: string }
  | { type: 'close' }
  | { type: 'loaded'; id: string; view: ConversationView }
  | { type: 'load-failed'; id: string; error: string }
  | { type: 'message'; id: string; message: ConsoleMessage }
  | { type: 'case'; case: Case }
  | { type: 'activity'; id: string }
  | { type: 'canned'; replies: CannedReply[] }
  | { type: 'canned-added'; reply: CannedReply }
  | { type: 'canned-removed'; id: string }
  | { type: 'own-action'; id: string; at: number };

export const initialConsoleState: ConsoleState = {
  auth: 'checking',
  me: null,
  authNotice: null,
  stream: 'off',
  queue: [],
  mine: [],
  agents: [],
  snapshotAt: 0,
  haveSnapshot: false,
  seen: {},
  openId: null,
  conversations: {},
  unread: {},
  canned: [],
  ownActions: {},
};

function emptyEntry(id: string): ConversationEntry {
  return { id, meta: null, case: null, order: null, messages: [], status: 'loading', error: null };
}

function putEntry(state: ConsoleState, id: string, patch: Partial<ConversationEntry>): ConsoleState {
  const prev = state.conversations[id] ?? emptyEntry(id);
  return { ...state, conversations: { ...state.conversations, [id]: { ...prev, ...patch } } };
}

/** A case changed (an action's answer): the lists and the open view follow
 * at once, before the next queue event confirms it. */
function applyCase(state: ConsoleState, c: Case): ConsoleState {
  const id = c.conversation_id;
  const queue =
    c.status === 'queued'
      ? sortQueue([...state.queue.filter((x) => x.conversation_id !== id), c])
      : state.queue.filter((x) => x.conversation_id !== id);
  const mineNow = c.status === 'assigned' && !!state.me && c.agent?.id === state.me.id;
  const inMine = state.mine.some((x) => x.conversation_id === id);
  const mine = mineNow
    ? inMine
      ? state.mine.map((x) => (x.conversation_id === id ? c : x))
      : [...state.mine, c]
    : state.mine.filter((x) => x.conversation_id !== id);
  let next: ConsoleState = { ...state, queue, mine, seen: { ...state.seen, [c.case_id]: true } };
  if (state.conversations[id]) next = putEntry(next, id, { case: c });
  return next;
}

export function consoleReducer(state: ConsoleState, action: ConsoleAction): ConsoleState {
  switch (action.type) {
    case 'checking':
      return { ...state, auth: 'checking' };
    case 'signed-in':
      if (state.auth === 'signed-in' && state.me?.id === action.agent.id) return { ...state, me: action.agent };
      return { ...initialConsoleState, auth: 'signed-in', me: action.agent };
    case 'signed-out':
      return { ...initialConsoleState, auth: 'signed-out', authNotice: action.notice ?? null };
    case 'stream':
      return state.stream === action.status ? state : { ...state, stream: action.status };
    case 'snapshot': {
      const { snapshot, at } = action;
      let seen = state.seen;
      // What waits when I first look is not news: only later hand-offs ring.
      if (!state.haveSnapshot) {
        seen = { ...seen };
        for (const c of snapshot.queue) seen[c.case_id] = true;
        for (const c of snapshot.mine) seen[c.case_id] = true;
      }
      let next: ConsoleState = {
        ...state,
        queue: sortQueue(snapshot.queue),
        mine: snapshot.mine,
        agents: snapshot.agents,
        snapshotAt: at,
        haveSnapshot: true,
        seen,
      };
      for (const c of [...snapshot.queue, ...snapshot.mine]) {
        if (next.conversations[c.conversation_id]) next = putEntry(next, c.conversation_id, { case: c });
      }
      return next;
    }
    case 'seen':
      return state.seen[action.caseId] ? state : { ...state, seen: { ...state.seen, [action.caseId]: true } };
    case 'open': {
      const { [action.id]: _gone, ...unread } = state.unread;
      void _gone;
      let next: ConsoleState = { ...state, openId: action.id, unread };
      if (!state.conversations[action.id]) next = putEntry(next, action.id, {});
      const c =
        state.queue.find((x) => x.conversation_id === action.id) ?? state.mine.find((x) => x.conversation_id === action.id);
      if (c) {
        next.seen = { ...next.seen, [c.case_id]: true };
        if (!next.conversations[action.id].case) next = putEntry(next, action.id, { case: c });
      }
      return next;
    }
    case 'close':
      return { ...state, openId: null };
    case 'loaded': {
      const prev = state.conversations[action.id] ?? emptyEntry(action.id);
      const v = action.view;
      let next = putEntry(state, action.id, {
        meta: v.conversation,
        case: v.case ?? prev.case,
        order: v.order ?? prev.order,
        messages: mergeMessages(prev.messages, v.messages),
        status: 'ready',
        error: null,
      });
      if (v.case) next = { ...next, seen: { ...next.seen, [v.case.case_id]: true } };
      return next;
    }
    case 'load-failed':
      return putEntry(state, action.id, { status: 'error', error: action.error });
    case 'message': {
      const prev = state.conversations[action.id] ?? emptyEntry(action.id);
      return putEntry(state, action.id, { messages: mergeMessages(prev.messages, [action.message]) });
    }
    case 'case':
      return applyCase(state, action.case);
    case 'activity':
      if (action.id === state.openId || state.unread[action.id]) return state;
      return { ...state, unread: { ...state.unread, [action.id]: true } };
    case 'canned':
      return { ...state, canned: sortCanned(action.replies) };
    case 'canned-added':
      return { ...state, canned: sortCanned([...state.canned.filter((r) => r.id !== action.reply.id), action.reply]) };
    case 'canned-removed':
      return { ...state, canned: state.canned.filter((r) => r.id !== action.id) };
    case 'own-action':
      return { ...state, ownActions: { ...state.ownActions, [action.id]: action.at } };
  }
}

function sortCanned(replies: CannedReply[]): CannedReply[] {
  return [...replies].sort((a, b) => a.shortcut.localeCompare(b.shortcut));
}

// ---- selectors

export function openEntry(state: ConsoleState): ConversationEntry | null {
  return state.openId ? state.conversations[state.openId] ?? null : null;
}

/** Whether the case is assigned to me. */
export function isMine(state: ConsoleState, c: Case | null): boolean {
  return !!c && c.status === 'assigned' && !!state.me && c.agent?.id === state.me.id;
}

/** Online agents I could transfer to (not me), those with room first. */
export function transferTargets(state: ConsoleState): RosterAgent[] {
  return state.agents
    .filter((a) => a.online && a.id !== state.me?.id)
    .sort((a, b) => Number(a.active_chats >= a.max_chats) - Number(b.active_chats >= b.max_chats) || a.name.localeCompare(b.name));
}

/** The reducer's state, observable (for React's useSyncExternalStore). */
export class ConsoleStore extends ReducerStore<ConsoleState, ConsoleAction> {
  constructor(state: ConsoleState = initialConsoleState) {
    super(consoleReducer, state);
  }
}
