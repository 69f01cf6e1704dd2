// The agent API's wire format (see /v1/agent/* in the server), as the console
// uses it. `normalize.ts` turns what arrives into these shapes.

export type AgentRole = 'agent' | 'supervisor';

export interface Agent {
  id: string;
  name: string;
  email: string;
  role: AgentRole;
  max_chats: number;
  languages: string[];
}

/** One agent of the roster in a queue snapshot. */
export interface RosterAgent {
  id: string;
  name: string;
  online: boolean;
  active_chats: number;
  max_chats: number;
}

export type CaseStatus = 'queued' | 'assigned' | 'resolved' | 'released';
export type PriorityLabel = 'high' | 'normal' | 'low';

export interface Sentiment {
  last: number | null;
  /** Oldest to newest, at most 10, each in [-1, 1]. */
  trend: number[];
}

export interface OrderSummary {
  order_number: string;
  state: string;
  total: string;
  currency: string;
}

export interface LastMessage {
  role: string;
  text: string;
  created_at: string;
}

export interface Case {
  case_id: string;
  conversation_id: string;
  status: CaseStatus;
  reason: string;
  priority: number;
  priority_label: PriorityLabel;
  requested_at: string;
  /** How long it had waited when the server sent it. */
  waiting_seconds: number;
  agent: { id: string; name: string } | null;
  locale: string | null;
  intent: string | null;
  sentiment: Sentiment;
  order: OrderSummary | null;
  contact_email: string | null;
  offline: boolean;
  last_message: LastMessage | null;
}

export interface QueueSnapshot {
  queue: Case[];
  mine: Case[];
  agents: RosterAgent[];
}

export type MessageRole = 'user' | 'bot' | 'agent' | 'note' | 'system';

export interface ConsoleMessage {
  /** A decimal string, the event's seq: increasing within a conversation. */
  id: string;
  role: MessageRole;
  text: string;
  created_at: string;
  /** The agent's name, on agent messages and notes. */
  agent?: string | null;
  quick_replies?: string[];
  order_card?: { order_number: string; state: string } | null;
}

export interface OrderItem {
  name: string;
  quantity: number;
  price: string;
}

export interface OrderDetail {
  order_number: string;
  state: string;
  placed_at: string | null;
  total: string;
  currency: string;
  email: string | null;
  items: OrderItem[];
  shipping_address: Record<string, string> | null;
  carrier: string | null;
  tracking_number: string | null;
  tracking_url: string | null;
  eta: string | null;
}

export interface ConversationMeta {
  id: string;
  locale: string | null;
  channel: string | null;
  created_at: string | null;
}

export interface ConversationView {
  conversation: ConversationMeta;
  case: Case | null;
  messages: ConsoleMessage[];
  order: OrderDetail | null;
}

export interface CannedReply {
  id: string;
  shortcut: string;
  title: string;
  text: string;
}

export const OUTCOMES = ['resolved', 'refunded', 'replaced', 'reshipped', 'cancelled', 'no_action', 'other'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** `event: handoff`: a new hand-off entered the queue. */
export interface HandoffEvent {
  case_id: string;
  conversation_id: string;
  reason: string;
  priority_label: PriorityLabel;
}

/** `event: activity`: something was appended to a conversation. */
export interface ActivityEvent {
  conversation_id: string;
  seq: string;
}
