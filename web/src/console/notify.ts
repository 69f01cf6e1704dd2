// When a new hand-off should ring and pop a desktop notification. The
// decision is a pure function of the event and what the console knows.

import { priorityText, reasonLabel } from './format';
import type { HandoffEvent } from './types';

/** An action of mine on a conversation within this long explains a hand-off
 * of it (e.g. I just handed it back), so it does not ring. */
export const OWN_ACTION_WINDOW_MS = 15_000;

export type Permission = 'granted' | 'denied' | 'default' | 'unsupported';

export interface NotifyContext {
  signedIn: boolean;
  /** Case ids already known: notified, in the queue when I signed in, or opened. */
  seenCaseIds: Readonly<Record<string, true>>;
  /** Conversations assigned to me. */
  mine: readonly string[];
  /** The conversation open in the pane. */
  openConversationId: string | null;
  /** When I last acted on each conversation (ms). */
  ownActions: Readonly<Record<string, number>>;
  now: number;
  soundOn: boolean;
  permission: Permission;
  /** The page is visible and focused: the agent sees the queue already. */
  pageActive: boolean;
}

export interface NotifyDecision {
  sound: boolean;
  desktop: boolean;
  /** Why not, or `new`. */
  why: 'new' | 'signed-out' | 'seen' | 'mine' | 'open' | 'own-action';
}

export function decideNotification(ev: HandoffEvent, ctx: NotifyContext): NotifyDecision {
  const none = (why: NotifyDecision['why']): NotifyDecision => ({ sound: false, desktop: false, why });
  if (!ctx.signedIn) return none('signed-out');
  if (ctx.seenCaseIds[ev.case_id]) return none('seen');
  if (ctx.mine.includes(ev.conversation_id)) return none('mine');
  if (ctx.openConversationId === ev.conversation_id) return none('open');
  const at = ctx.ownActions[ev.conversation_id];
  if (at !== undefined && ctx.now - at >= 0 && ctx.now - at < OWN_ACTION_WINDOW_MS) return none('own-action');
  return {
    sound: ctx.soundOn,
    desktop: ctx.permission === 'granted' && !ctx.pageActive,
    why: 'new',
  };
}

/** The desktop notification's words. */
export function notificationText(ev: HandoffEvent): { title: string; body: string } {
  return {
    title: `New hand-off ${ev.case_id}`,
    body: `${reasonLabel(ev.reason)} · ${priorityText(ev.priority_label)}`,
  };
}
