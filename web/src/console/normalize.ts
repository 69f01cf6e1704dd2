// What the server sends, checked and given defaults, so the UI can trust the
// shapes in types.ts. Malformed items are dropped, never shown half-read.

import { isMessageId } from '../ids';
import type {
  Agent,
  CannedReply,
  Case,
  CaseStatus,
  ConsoleMessage,
  ConversationView,
  MessageRole,
  OrderDetail,
  PriorityLabel,
  QueueSnapshot,
  RosterAgent,
} from './types';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);
const num = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function list<T>(v: unknown, f: (x: unknown) => T | null): T[] {
  const out: T[] = [];
  for (const x of arr(v)) {
    const y = f(x);
    if (y !== null) out.push(y);
  }
  return out;
}

export function normalizeAgent(raw: unknown): Agent | null {
  const a = obj(raw);
  const id = str(a?.id);
  if (!a || !id) return null;
  return {
    id,
    name: str(a.name) ?? id,
    email: str(a.email) ?? '',
    role: a.role === 'supervisor' ? 'supervisor' : 'agent',
    max_chats: num(a.max_chats, 0),
    languages: list(a.languages, str),
  };
}

function rosterAgent(raw: unknown): RosterAgent | null {
  const a = obj(raw);
  const id = str(a?.id);
  if (!a || !id) return null;
  return {
    id,
    name: str(a.name) ?? id,
    online: a.online === true,
    active_chats: num(a.active_chats),
    max_chats: num(a.max_chats),
  };
}

const STATUSES: readonly CaseStatus[] = ['queued', 'assigned', 'resolved', 'released'];
const PRIORITIES: readonly PriorityLabel[] = ['high', 'normal', 'low'];

export function normalizeCase(raw: unknown): Case | null {
  const c = obj(raw);
  const caseId = str(c?.case_id);
  const conv = str(c?.conversation_id);
  if (!c || !caseId || !conv) return null;
  const agent = obj(c.agent);
  const s = obj(c.sentiment);
  const o = obj(c.order);
  const lm = obj(c.last_message);
  return {
    case_id: caseId,
    conversation_id: conv,
    status: STATUSES.includes(c.status as CaseStatus) ? (c.status as CaseStatus) : 'queued',
    reason: str(c.reason) ?? '',
    priority: num(c.priority),
    priority_label: PRIORITIES.includes(c.priority_label as PriorityLabel) ? (c.priority_label as PriorityLabel) : 'normal',
    requested_at: str(c.requested_at) ?? '',
    waiting_seconds: Math.max(0, num(c.waiting_seconds)),
    agent: agent && str(agent.id) ? { id: str(agent.id)!, name: str(agent.name) ?? str(agent.id)! } : null,
    locale: str(c.locale),
    intent: str(c.intent),
    sentiment: {
      last: s && typeof s.last === 'number' ? s.last : null,
      trend: list(s?.trend, (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null)).slice(-10),
    },
    order:
      o && str(o.order_number)
        ? {
            order_number: str(o.order_number)!,
            state: str(o.state) ?? '',
            total: str(o.total) ?? '',
            currency: str(o.currency) ?? '',
          }
        : null,
    contact_email: str(c.contact_email),
    offline: c.offline === true,
    last_message:
      lm && typeof lm.text === 'string'
        ? { role: str(lm.role) ?? 'user', text: lm.text, created_at: str(lm.created_at) ?? '' }
        : null,
  };
}

export function normalizeSnapshot(raw: unknown): QueueSnapshot {
  const q = obj(raw);
  return {
    queue: list(q?.queue, normalizeCase),
    mine: list(q?.mine, normalizeCase),
    agents: list(q?.agents, rosterAgent),
  };
}

const ROLES: readonly MessageRole[] = ['user', 'bot', 'agent', 'note', 'system'];

export function normalizeMessage(raw: unknown): ConsoleMessage | null {
  const m = obj(raw);
  if (!m || !isMessageId(m.id) || typeof m.text !== 'string') return null;
  const out: ConsoleMessage = {
    id: m.id,
    role: ROLES.includes(m.role as MessageRole) ? (m.role as MessageRole) : 'system',
    text: m.text,
    created_at: str(m.created_at) ?? '',
  };
  const agent = str(m.agent);
  if (agent) out.agent = agent;
  const q = list(m.quick_replies, str).filter((x) => x.trim() !== '');
  if (q.length) out.quick_replies = q;
  const card = obj(m.order_card);
  if (card && str(card.order_number)) {
    out.order_card = { order_number: str(card.order_number)!, state: str(card.state) ?? '' };
  }
  return out;
}

export function normalizeOrder(raw: unknown): OrderDetail | null {
  const o = obj(raw);
  if (!o || !str(o.order_number)) return null;
  const addr = obj(o.shipping_address);
  let shipping: Record<string, string> | null = null;
  if (addr) {
    shipping = {};
    for (const [k, v] of Object.entries(addr)) {
      const s = str(v);
      if (s) shipping[k] = s;
    }
  }
  return {
    order_number: str(o.order_number)!,
    state: str(o.state) ?? '',
    placed_at: str(o.placed_at),
    total: str(o.total) ?? '',
    currency: str(o.currency) ?? '',
    email: str(o.email),
    items: list(o.items, (x) => {
      const i = obj(x);
      const name = str(i?.name);
      return i && name ? { name, quantity: num(i.quantity, 1), price: str(i.price) ?? '' } : null;
    }),
    shipping_address: shipping,
    carrier: str(o.carrier),
    tracking_number: str(o.tracking_number),
    tracking_url: str(o.tracking_url),
    eta: str(o.eta),
  };
}

export function normalizeConversation(raw: unknown, id: string): ConversationView {
  const v = obj(raw);
  const c = obj(v?.conversation);
  return {
    conversation: {
      id: str(c?.id) ?? id,
      locale: str(c?.locale),
      channel: str(c?.channel),
      created_at: str(c?.created_at),
    },
    case: normalizeCase(v?.case),
    messages: list(v?.messages, normalizeMessage),
    order: normalizeOrder(v?.order),
  };
}

export function normalizeCanned(raw: unknown): CannedReply | null {
  const r = obj(raw);
  const id = str(r?.id);
  const shortcut = str(r?.shortcut);
  if (!r || !id || !shortcut || typeof r.text !== 'string') return null;
  return { id, shortcut, title: str(r.title) ?? shortcut, text: r.text };
}

export function normalizeCannedList(raw: unknown): CannedReply[] {
  return list(obj(raw)?.replies, normalizeCanned);
}
