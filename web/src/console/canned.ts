// Canned replies in the composer: typing `/thanks` and then a space (or Tab)
// puts the reply's text in its place. Pure functions over the text and the
// caret, so they are tested without a browser.

import type { CannedReply } from './types';

const SHORTCUT = /^\/[a-z0-9][a-z0-9_-]{0,31}$/;

/** "thanks", "/Thanks " → "/thanks"; null if it cannot be a shortcut. */
export function normalizeShortcut(value: string): string | null {
  let s = value.trim().toLowerCase();
  if (!s.startsWith('/')) s = `/${s}`;
  return SHORTCUT.test(s) ? s : null;
}

/** The `/word` that ends at `caret` (it must start the text or follow a
 * space or line break), or null. */
export function shortcutBefore(text: string, caret: number): { start: number; token: string } | null {
  let i = caret;
  while (i > 0 && !/\s/.test(text[i - 1])) i--;
  const token = text.slice(i, caret);
  if (token.length < 2 || token[0] !== '/' || !/^\/[\w-]+$/.test(token)) return null;
  return { start: i, token };
}

export function findReply(token: string, replies: readonly CannedReply[]): CannedReply | null {
  const t = token.toLowerCase();
  return replies.find((r) => r.shortcut.toLowerCase() === t) ?? null;
}

export interface Expansion {
  text: string;
  caret: number;
  reply: CannedReply;
}

/** Replaces the shortcut ending at the caret with its reply's text, if it names one. */
export function expandAt(text: string, caret: number, replies: readonly CannedReply[]): Expansion | null {
  const found = shortcutBefore(text, caret);
  if (!found) return null;
  const reply = findReply(found.token, replies);
  if (!reply) return null;
  return insertReply(text, found.start, caret, reply);
}

/** After a keystroke: when the character just typed before the caret is a
 * space and a shortcut precedes it, expand it (the space stays). */
export function expandOnSpace(text: string, caret: number, replies: readonly CannedReply[]): Expansion | null {
  if (caret < 1 || text[caret - 1] !== ' ') return null;
  const e = expandAt(text, caret - 1, replies);
  if (!e) return null;
  return { ...e, text: `${e.text.slice(0, e.caret)} ${text.slice(caret)}`, caret: e.caret + 1 };
}

/** Puts a reply's text in place of text[start, end). */
export function insertReply(text: string, start: number, end: number, reply: CannedReply): Expansion {
  const out = text.slice(0, start) + reply.text + text.slice(end);
  return { text: out, caret: start + reply.text.length, reply };
}

/** The replies whose shortcut starts with the `/word` being typed. */
export function suggestReplies(token: string, replies: readonly CannedReply[], limit = 6): CannedReply[] {
  const t = token.toLowerCase();
  return replies.filter((r) => r.shortcut.toLowerCase().startsWith(t)).slice(0, limit);
}

/** Checks a new canned reply before it is sent. */
export function validateCanned(
  input: { shortcut: string; title: string; text: string },
  existing: readonly CannedReply[],
): { reply: Omit<CannedReply, 'id'> | null; errors: Partial<Record<'shortcut' | 'title' | 'text', string>> } {
  const errors: Partial<Record<'shortcut' | 'title' | 'text', string>> = {};
  const shortcut = normalizeShortcut(input.shortcut);
  if (!input.shortcut.trim()) errors.shortcut = 'Enter a shortcut, like /thanks.';
  else if (!shortcut) errors.shortcut = 'A shortcut is / and up to 32 letters, digits, - or _.';
  else if (existing.some((r) => r.shortcut.toLowerCase() === shortcut)) errors.shortcut = `${shortcut} is already taken.`;
  const title = input.title.trim();
  if (!title) errors.title = 'Enter a title.';
  const text = input.text.trim();
  if (!text) errors.text = 'Enter the reply text.';
  if (Object.keys(errors).length) return { reply: null, errors };
  return { reply: { shortcut: shortcut!, title, text }, errors };
}
