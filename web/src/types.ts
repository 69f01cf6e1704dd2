// The wire format of the wismo conversation API (see the server's ws.rs and
// api.rs). Only what the widget reads is typed; unknown fields are ignored.

export type Role = 'user' | 'bot' | 'agent' | 'system';

export interface OrderCard {
  order_number: string;
  state: string;
  items: string[];
  carrier?: string | null;
  tracking_number?: string | null;
  tracking_url?: string | null;
  eta?: string | null;
}

export interface Message {
  /** A decimal number as a string, increasing within a conversation. */
  id: string;
  role: Role;
  text: string;
  created_at?: string;
  quick_replies?: string[] | null;
  order_card?: OrderCard | null;
  /** The agent's display name, when the server knows it. */
  author?: string | null;
  /** For `system` notices: what happened (`agent_joined`, `agent_transferred`,
   * `resolved`, `back_to_bot`), so it can be said in the widget's language. */
  kind?: string;
  /** For a transfer: who took over. */
  to?: string | null;
  /** A bot message sent on the store's initiative (a delivery update), not
   * in answer to the shopper. */
  proactive?: boolean;
}

export type HandoffStatus = 'none' | 'requested' | 'queued' | 'assigned' | 'resolved';

export interface Handoff {
  status: HandoffStatus;
  reason?: string | null;
  /** The assigned agent's display name, when the server knows it. */
  agent?: string | null;
  /** The case's human-readable id, e.g. `H-3`, once a person was asked for. */
  case_id?: string | null;
  /** While queued: the server's estimate of the wait, in seconds. */
  wait_seconds?: number | null;
  /** While queued: whether someone from the team was online when the bot
   * last told the shopper what happens next (false: email follow-up). */
  agents_online?: boolean | null;
  /** While queued with nobody online: the team will continue by email at an
   * address it has (false: the bot asked the shopper for one). */
  email_follow_up?: boolean | null;
}

/** The shopper's answer to "How did we do?": null while not given; `thanked`
 * once given on this page (the thank-you shows); `answered` when it was given
 * before (kept in storage, or the server said so), so it is not asked again. */
export type CsatState = null | 'thanked' | 'answered';

export type ServerFrame =
  | { type: 'ready'; conversation_id: string; handoff?: Handoff }
  | { type: 'message'; message: Message }
  | { type: 'typing'; role: Role; on: boolean }
  | { type: 'handoff'; handoff: Handoff }
  | { type: 'ack'; client_message_id: string | null; id: string }
  | { type: 'error'; code: string; message: string; client_message_id?: string | null }
  | { type: 'pong' };

export type ClientFrame =
  | { type: 'message'; text: string; client_message_id: string }
  | { type: 'typing'; on: boolean }
  | { type: 'resume'; after: string }
  | { type: 'ping' };

export type Locale = 'en' | 'es';

/** What the widget keeps in localStorage under `wismo.conversation`. */
export interface SavedConversation {
  id: string;
  token: string;
}

export type ConnectionStatus =
  /** No conversation yet (nothing asked of the server). */
  | 'idle'
  /** First connection of this page. */
  | 'connecting'
  | 'online'
  /** Lost the connection; trying again with backoff. */
  | 'reconnecting';
