// The widget's state: the conversation's messages (merged, deduplicated and
// ordered by their numeric id), the shopper's messages not yet confirmed by
// the server, who is typing, the hand-off and the connection, and what the
// shopper has read (for the launcher's unread badge). A plain reducer, so it
// is tested without a browser; `ChatStore` makes it observable.

import { ReducerStore } from './reducerStore';
import { compareIds, isMessageId } from './ids';
import type { ConnectionStatus, CsatState, Handoff, HandoffStatus, Message, Role } from './types';

export interface PendingMessage {
  /** The `client_message_id` it is sent (and retried) with. */
  clientId: string;
  text: string;
  status: 'sending' | 'failed';
  /** The last message id seen when it was written: its echo comes after. */
  afterId: string | null;
  /** The server's id for it, once acknowledged. */
  serverId?: string;
  /** Why it failed (the server's error code). */
  error?: string;
}

export interface ChatState {
  conversationId: string | null;
  messages: Message[];
  pending: PendingMessage[];
  handoff: Handoff;
  /** Who is typing on the store's side. */
  typing: 'bot' | 'agent' | null;
  connection: ConnectionStatus;
  csat: CsatState;
  /** Whether the chat panel is open (everything that arrives is read). */
  open: boolean;
  /** Messages up to this id are read; the store's ones after it are unread.
   * null until the conversation's history has loaded (history is never unread). */
  readUpTo: string | null;
}

export type Action =
  | { type: 'conversation'; id: string; fresh: boolean }
  /** `history`: the transcript loaded over HTTP (creating or resuming the
   * conversation, catching up after a drop); the first load of a conversation
   * is read, whatever it holds. */
  | { type: 'messages'; messages: unknown[]; history?: boolean }
  | { type: 'pending'; clientId: string; text: string }
  | { type: 'ack'; clientId: string; id: string }
  | { type: 'failed'; clientId: string; error: string }
  | { type: 'retry'; clientId: string }
  | { type: 'typing'; role: Role; on: boolean }
  | { type: 'handoff'; handoff: unknown }
  | { type: 'connection'; status: ConnectionStatus }
  | { type: 'csat'; state: Exclude<CsatState, null> }
  /** The panel opened (everything so far is read) or closed. */
  | { type: 'panel'; open: boolean }
  /** What was read on an earlier page of this tab (kept in sessionStorage). */
  | { type: 'read'; upTo: string };

export const NO_HANDOFF: Handoff = { status: 'none', reason: null };

export const initialState: ChatState = {
  conversationId: null,
  messages: [],
  pending: [],
  handoff: NO_HANDOFF,
  typing: null,
  connection: 'idle',
  csat: null,
  open: false,
  readUpTo: null,
};

const ROLES: readonly Role[] = ['user', 'bot', 'agent', 'system'];
const HANDOFF_STATUSES: readonly HandoffStatus[] = [
  'none',
  'requested',
  'queued',
  'assigned',
  'resolved',
];

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A message from the server as the widget uses it, or null if malformed. */
export function normalizeMessage(raw: unknown): Message | null {
  if (!raw || typeof raw !== 'object') return null;
  const m = raw as Record<string, unknown>;
  if (!isMessageId(m.id) || typeof m.text !== 'string') return null;
  // Internal notes are for agents only; should one ever arrive, it is not shown.
  if (m.role === 'note') return null;
  const role = ROLES.includes(m.role as Role) ? (m.role as Role) : 'system';
  const out: Message = { id: m.id, role, text: m.text };
  if (typeof m.created_at === 'string') out.created_at = m.created_at;
  if (Array.isArray(m.quick_replies)) {
    const q = m.quick_replies.filter((x): x is string => typeof x === 'string' && x.trim() !== '');
    if (q.length) out.quick_replies = q;
  }
  const author = str(m.agent) ?? str(m.author) ?? str(m.agent_name);
  if (author) out.author = author;
  if (role === 'system' && typeof m.kind === 'string') out.kind = m.kind;
  if (role === 'system' && typeof m.to === 'string') out.to = m.to;
  if (role === 'bot' && m.proactive === true) out.proactive = true;
  const c = m.order_card as Record<string, unknown> | null | undefined;
  if (c && typeof c === 'object' && (typeof c.order_number === 'string' || typeof c.order_number === 'number')) {
    out.order_card = {
      order_number: String(c.order_number),
      state: str(c.state) ?? '',
      items: Array.isArray(c.items) ? c.items.filter((x): x is string => typeof x === 'string') : [],
      carrier: str(c.carrier),
      tracking_number: str(c.tracking_number),
      tracking_url: str(c.tracking_url),
      eta: str(c.eta),
    };
  }
  return out;
}

export function normalizeHandoff(raw: unknown): Handoff {
  if (!raw || typeof raw !== 'object') return NO_HANDOFF;
  const h = raw as Record<string, unknown>;
  const status = HANDOFF_STATUSES.includes(h.status as HandoffStatus)
    ? (h.status as HandoffStatus)
    : 'none';
  const out: Handoff = { status, reason: str(h.reason) };
  const agent = str(h.agent) ?? str(h.agent_name);
  if (agent) out.agent = agent;
  const caseId = str(h.case_id);
  if (caseId) out.case_id = caseId;
  if (typeof h.wait_seconds === 'number' && Number.isFinite(h.wait_seconds) && h.wait_seconds >= 0) {
    out.wait_seconds = h.wait_seconds;
  }
  if (typeof h.agents_online === 'boolean') out.agents_online = h.agents_online;
  if (typeof h.email_follow_up === 'boolean') out.email_follow_up = h.email_follow_up;
  return out;
}

/** The new read mark after messages were merged: all of them while the panel
 * is open or on the conversation's first history; else it stays. */
function readMark(before: ChatState, after: Message[], history: boolean): string | null {
  const last = after.length ? after[after.length - 1].id : null;
  if (before.open || (history && before.readUpTo === null)) return last ?? before.readUpTo;
  // Live messages before any history (not expected): what was shown is read.
  if (before.readUpTo === null) return lastMessageId(before) ?? '0';
  return before.readUpTo;
}

function mergeMessages(state: ChatState, incoming: unknown[], history = false): ChatState {
  const byId = new Map<string, Message>();
  for (const m of state.messages) byId.set(m.id, m);
  let pending = state.pending;
  let typing = state.typing;
  let changed = false;
  for (const raw of incoming) {
    const m = normalizeMessage(raw);
    if (!m) continue;
    const known = byId.has(m.id);
    byId.set(m.id, m);
    changed = true;
    if (m.role === 'user') {
      // The server's copy of an optimistic message: by the id its ack gave,
      // or else the first unacknowledged one with the same text written
      // before this message landed.
      let i = pending.findIndex((p) => p.serverId === m.id);
      if (i < 0 && !known) {
        i = pending.findIndex(
          (p) =>
            p.serverId === undefined &&
            p.status === 'sending' &&
            p.text.trim() === m.text.trim() &&
            (p.afterId === null || compareIds(m.id, p.afterId) > 0),
        );
      }
      if (i >= 0) pending = pending.filter((_, j) => j !== i);
    } else if (m.role === typing) {
      typing = null;
    }
  }
  if (!changed) return state;
  const messages = Array.from(byId.values()).sort((a, b) => compareIds(a.id, b.id));
  return { ...state, messages, pending, typing, readUpTo: readMark(state, messages, history) };
}

export function lastMessageId(state: ChatState): string | null {
  const last = state.messages[state.messages.length - 1];
  return last ? last.id : null;
}

export function reducer(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'conversation':
      if (!action.fresh) return { ...state, conversationId: action.id };
      // A new conversation: what was shown belongs to the old one, except
      // what the shopper wrote and the server never took (sent again here).
      return {
        ...state,
        conversationId: action.id,
        messages: [],
        handoff: NO_HANDOFF,
        typing: null,
        csat: null,
        readUpTo: null,
        pending: state.pending
          .filter((p) => p.serverId === undefined)
          .map((p) => ({ ...p, afterId: null })),
      };
    case 'messages':
      return mergeMessages(state, action.messages, action.history === true);
    case 'pending':
      if (state.pending.some((p) => p.clientId === action.clientId)) return state;
      return {
        ...state,
        pending: [
          ...state.pending,
          {
            clientId: action.clientId,
            text: action.text,
            status: 'sending',
            afterId: lastMessageId(state),
          },
        ],
      };
    case 'ack': {
      if (!isMessageId(action.id)) return state;
      const i = state.pending.findIndex((p) => p.clientId === action.clientId);
      if (i < 0) return state;
      const landed = state.messages.some((m) => m.id === action.id);
      const pending = landed
        ? state.pending.filter((_, j) => j !== i)
        : state.pending.map((p, j) =>
            j === i ? { ...p, serverId: action.id, status: 'sending' as const } : p,
          );
      return { ...state, pending };
    }
    case 'failed':
    case 'retry': {
      const i = state.pending.findIndex((p) => p.clientId === action.clientId);
      if (i < 0) return state;
      const pending = state.pending.map((p, j): PendingMessage => {
        if (j !== i) return p;
        return action.type === 'failed'
          ? { ...p, status: 'failed', error: action.error }
          : { ...p, status: 'sending', error: undefined };
      });
      return { ...state, pending };
    }
    case 'typing': {
      if (action.role !== 'bot' && action.role !== 'agent') return state;
      const typing = action.on ? action.role : state.typing === action.role ? null : state.typing;
      return typing === state.typing ? state : { ...state, typing };
    }
    case 'handoff':
      return { ...state, handoff: normalizeHandoff(action.handoff) };
    case 'connection':
      return state.connection === action.status ? state : { ...state, connection: action.status };
    case 'csat':
      // Once thanked on this page, a later "it was answered" changes nothing.
      if (state.csat === action.state || (state.csat === 'thanked' && action.state === 'answered')) return state;
      return { ...state, csat: action.state };
    case 'panel': {
      const readUpTo = action.open ? (lastMessageId(state) ?? state.readUpTo) : state.readUpTo;
      if (state.open === action.open && readUpTo === state.readUpTo) return state;
      return { ...state, open: action.open, readUpTo };
    }
    case 'read': {
      if (!isMessageId(action.upTo)) return state;
      const readUpTo = state.open ? (lastMessageId(state) ?? action.upTo) : action.upTo;
      return readUpTo === state.readUpTo ? state : { ...state, readUpTo };
    }
  }
}

/** How many messages from the store's side (the assistant, an agent) arrived
 * since the shopper last had the panel open; 0 while it is open. System
 * notices and the shopper's own messages never count. */
export function unreadCount(state: ChatState): number {
  const mark = state.readUpTo;
  if (state.open || mark === null) return 0;
  let n = 0;
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const m = state.messages[i];
    if (compareIds(m.id, mark) <= 0) break;
    if (m.role === 'bot' || m.role === 'agent') n++;
  }
  return n;
}

/** The quick replies to offer: those of the latest message, if it is the bot's
 * and the shopper has not written since. */
export function currentQuickReplies(state: ChatState): string[] {
  if (state.pending.length) return [];
  const last = state.messages[state.messages.length - 1];
  if (!last || last.role !== 'bot' || !last.quick_replies) return [];
  return last.quick_replies;
}

/** Whether to ask "How did we do?": a person closed the case and it was not answered yet. */
export function shouldAskCsat(state: ChatState): boolean {
  return state.handoff.status === 'resolved' && state.csat === null && state.conversationId !== null;
}

/** The assigned agent's name, if the server told it. */
export function agentName(state: ChatState): string | null {
  if (state.handoff.agent) return state.handoff.agent;
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const m = state.messages[i];
    if (m.role === 'agent' && m.author) return m.author;
  }
  return null;
}

/** The reducer's state, observable (for React's useSyncExternalStore). */
export class ChatStore extends ReducerStore<ChatState, Action> {
  constructor(state: ChatState = initialState) {
    super(reducer, state);
  }
}
