import { describe, expect, it } from 'vitest';
import {
  expandAt,
  expandOnSpace,
  normalizeShortcut,
  shortcutBefore,
  suggestReplies,
  validateCanned,
} from '../../src/console/canned';
import type { CannedReply } from '../../src/console/types';

const R: CannedReply[] = [
  { id: '1', shortcut: '/thanks', title: 'Thanks', text: 'Thanks for waiting!' },
  { id: '2', shortcut: '/refund', title: 'Refund', text: 'I have issued a refund.' },
  { id: '3', shortcut: '/ref-policy', title: 'Refund policy', text: 'You can return items within 30 days.' },
];

describe('canned reply shortcuts', () => {
  it('finds the /word that ends at the caret', () => {
    expect(shortcutBefore('/thanks', 7)).toEqual({ start: 0, token: '/thanks' });
    expect(shortcutBefore('hi /ref', 7)).toEqual({ start: 3, token: '/ref' });
    expect(shortcutBefore('hi\n/ref', 7)).toEqual({ start: 3, token: '/ref' });
    expect(shortcutBefore('a/b', 3)).toBeNull(); // not at a word start
    expect(shortcutBefore('see https://x.example/thanks', 28)).toBeNull();
    expect(shortcutBefore('/', 1)).toBeNull();
    expect(shortcutBefore('/thanks now', 11)).toBeNull();
  });

  it('expands an exact shortcut in place, keeping the text around it', () => {
    expect(expandAt('Hi! /thanks', 11, R)).toMatchObject({ text: 'Hi! Thanks for waiting!', caret: 23 });
    expect(expandAt('/THANKS more', 7, R)).toMatchObject({ text: 'Thanks for waiting! more', caret: 19 });
    expect(expandAt('/than', 5, R)).toBeNull();
    expect(expandAt('/nope', 5, R)).toBeNull();
  });

  it('expands when a space is typed after the shortcut', () => {
    expect(expandOnSpace('/refund ', 8, R)).toMatchObject({ text: 'I have issued a refund. ', caret: 24 });
    expect(expandOnSpace('Hello /thanks x', 14, R)).toMatchObject({ text: 'Hello Thanks for waiting! x', caret: 26 });
    expect(expandOnSpace('/refun ', 7, R)).toBeNull();
    expect(expandOnSpace('/refund', 7, R)).toBeNull(); // no space typed yet
  });

  it('suggests replies by prefix', () => {
    expect(suggestReplies('/ref', R).map((r) => r.id)).toEqual(['2', '3']);
    expect(suggestReplies('/T', R).map((r) => r.id)).toEqual(['1']);
    expect(suggestReplies('/x', R)).toEqual([]);
  });

  it('checks new replies: the shortcut gets its slash, must be unique and well-formed', () => {
    expect(normalizeShortcut('Hello')).toBe('/hello');
    expect(normalizeShortcut('/two words')).toBeNull();
    expect(validateCanned({ shortcut: 'welcome', title: ' Welcome ', text: ' Hi there ' }, R)).toEqual({
      reply: { shortcut: '/welcome', title: 'Welcome', text: 'Hi there' },
      errors: {},
    });
    const bad = validateCanned({ shortcut: '/Thanks', title: '', text: ' ' }, R);
    expect(bad.reply).toBeNull();
    expect(bad.errors).toEqual({
      shortcut: '/thanks is already taken.',
      title: 'Enter a title.',
      text: 'Enter the reply text.',
    });
    expect(validateCanned({ shortcut: '/a b', title: 't', text: 't' }, R).errors.shortcut).toMatch(/letters, digits/);
  });
});
