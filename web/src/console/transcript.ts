// A conversation's messages as the console keeps them: merged by id (a later
// copy of the same id wins), ordered by numeric id, never twice.

import { compareIds, isMessageId } from '../ids';
import type { ConsoleMessage } from './types';

export function mergeMessages(existing: readonly ConsoleMessage[], incoming: readonly ConsoleMessage[]): ConsoleMessage[] {
  if (incoming.length === 0) return existing as ConsoleMessage[];
  const byId = new Map<string, ConsoleMessage>();
  for (const m of existing) byId.set(m.id, m);
  for (const m of incoming) if (isMessageId(m.id)) byId.set(m.id, m);
  return Array.from(byId.values()).sort((a, b) => compareIds(a.id, b.id));
}

/** The id to ask for what came after (`?after=`), or null when there is none. */
export function lastId(messages: readonly ConsoleMessage[]): string | null {
  return messages.length ? messages[messages.length - 1].id : null;
}

/** Whether an activity's `seq` is past what is already shown. */
export function isNewer(seq: string | null | undefined, messages: readonly ConsoleMessage[]): boolean {
  const last = lastId(messages);
  if (!seq || !isMessageId(seq)) return true; // unknown: fetch to be safe
  return last === null || compareIds(seq, last) > 0;
}
