import { forwardRef, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { expandAt, expandOnSpace, insertReply, shortcutBefore, suggestReplies } from '../canned';
import type { ConsoleController } from '../controller';
import { TypingSignal } from '../typing';
import type { CannedReply } from '../types';
import { LockIcon } from './icons';
import { NOTE_WARNING } from './Transcript';

export const MAX_CHARS = 4000;

export interface ComposerProps {
  controller: ConsoleController;
  conversationId: string;
  /** The case is mine: replies go to the shopper. Otherwise only notes. */
  canReply: boolean;
  canned: CannedReply[];
}

/** Reply to the shopper or write an internal note. Enter sends, Shift+Enter
 * is a new line; `/shortcut` then space or Tab puts in a canned reply, and a
 * list of matching replies opens while a `/word` is typed. */
export const Composer = forwardRef<HTMLTextAreaElement, ComposerProps>(function Composer(
  { controller, conversationId: id, canReply, canned },
  ref,
) {
  const drafts = controller.drafts;
  const saved = drafts.get(id);
  const [text, setText] = useState(saved?.text ?? '');
  const [note, setNote] = useState(saved ? saved.note || !canReply : !canReply);
  const [caret, setCaret] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<string | null>(null);
  const box = useRef<HTMLTextAreaElement | null>(null);
  const nextCaret = useRef<number | null>(null);
  const typing = useMemo(() => new TypingSignal((on) => controller.typing(id, on)), [controller, id]);

  const mode = canReply && !note ? 'reply' : 'note';

  useEffect(() => () => typing.stop(), [typing]);
  useEffect(() => {
    if (text) drafts.set(id, { text, note });
    else drafts.delete(id);
  }, [drafts, id, text, note]);
  // Accepting the case turns the box to replies; losing it, to notes.
  const hadReply = useRef(canReply);
  useEffect(() => {
    if (canReply && !hadReply.current) setNote(false);
    if (!canReply) typing.stop();
    hadReply.current = canReply;
  }, [canReply, typing]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && nextCaret.current !== null) {
      el.setSelectionRange(nextCaret.current, nextCaret.current);
      setCaret(nextCaret.current);
      nextCaret.current = null;
    }
  }, [text]);

  const token = shortcutBefore(text, caret);
  const tokenKey = token ? `${token.start}:${token.token}` : null;
  const suggestions = token && tokenKey !== dismissed ? suggestReplies(token.token, canned) : [];
  const listOpen = suggestions.length > 0;
  const activeIndex = Math.min(active, Math.max(0, suggestions.length - 1));

  const update = (value: string, at: number) => {
    setText(value);
    nextCaret.current = at;
    setError(null);
    if (mode === 'reply' && value.trim()) typing.input();
    else typing.stop();
  };

  const pick = (r: CannedReply) => {
    const el = box.current;
    const end = el ? el.selectionStart : caret;
    const t = shortcutBefore(text, end);
    const e = t ? insertReply(text, t.start, end, r) : insertReply(text, el?.selectionStart ?? text.length, el?.selectionEnd ?? text.length, r);
    update(e.text, e.caret);
    setActive(0);
    el?.focus();
  };

  const submit = async () => {
    if (busy) return;
    const value = text.trim();
    if (!value) {
      setError(mode === 'note' ? 'Write the note first.' : 'Write a reply first.');
      return;
    }
    typing.stop();
    setBusy(true);
    const err = await controller.send(id, value, mode === 'note');
    setBusy(false);
    if (err) setError(err);
    else {
      setText('');
      setCaret(0);
      drafts.delete(id);
    }
  };

  const listId = `wc-shortcuts-${id}`;
  return (
    <form
      className={`wc-composer wc-composer-${mode}`}
      aria-label={mode === 'note' ? 'Write an internal note' : 'Reply to the shopper'}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <fieldset className="wc-mode">
        <legend className="wc-sr">Write as</legend>
        <label className={`wc-mode-opt${mode === 'reply' ? ' wc-on' : ''}${canReply ? '' : ' wc-disabled'}`}>
          <input
            type="radio"
            name={`wc-mode-${id}`}
            value="reply"
            checked={mode === 'reply'}
            disabled={!canReply}
            data-testid="mode-reply"
            onChange={() => setNote(false)}
          />
          Reply
        </label>
        <label className={`wc-mode-opt wc-mode-note${mode === 'note' ? ' wc-on' : ''}`}>
          <input
            type="radio"
            name={`wc-mode-${id}`}
            value="note"
            checked={mode === 'note'}
            data-testid="mode-note"
            onChange={() => {
              setNote(true);
              typing.stop();
            }}
          />
          Internal note
        </label>
        {!canReply && <span className="wc-muted wc-mode-hint">Accept the case to reply to the shopper.</span>}
      </fieldset>
      {mode === 'note' && (
        <p className="wc-note-banner" id={`wc-note-warning-${id}`}>
          <LockIcon />{' '}
          {NOTE_WARNING}
        </p>
      )}
      <label htmlFor={`wc-text-${id}`} className="wc-sr">
        {mode === 'note' ? 'Internal note' : 'Reply to the shopper'}
      </label>
      <textarea
        ref={(el) => {
          box.current = el;
          if (typeof ref === 'function') ref(el);
          else if (ref) ref.current = el;
        }}
        id={`wc-text-${id}`}
        className="wc-input"
        rows={3}
        maxLength={MAX_CHARS}
        value={text}
        placeholder={mode === 'note' ? 'Note for the team…' : 'Write a reply… (type / for canned replies)'}
        aria-autocomplete="list"
        aria-controls={listOpen ? listId : undefined}
        aria-activedescendant={listOpen ? `${listId}-${activeIndex}` : undefined}
        aria-describedby={`wc-help-${id}${mode === 'note' ? ` wc-note-warning-${id}` : ''}`}
        aria-invalid={error ? true : undefined}
        data-testid="composer-text"
        onChange={(e) => {
          const value = e.target.value;
          const at = e.target.selectionStart ?? value.length;
          const x = expandOnSpace(value, at, canned);
          if (x) update(x.text, x.caret);
          else {
            update(value, at);
            setActive(0);
          }
        }}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
        onKeyDown={(e) => {
          if (listOpen) {
            if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              const n = suggestions.length;
              setActive((activeIndex + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
              return;
            }
            if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
              e.preventDefault();
              pick(suggestions[activeIndex]);
              return;
            }
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              setDismissed(tokenKey);
              return;
            }
          } else if (e.key === 'Tab' && !e.shiftKey) {
            const el = e.currentTarget;
            const x = expandAt(text, el.selectionStart, canned);
            if (x) {
              e.preventDefault();
              update(x.text, x.caret);
              return;
            }
          }
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void submit();
          }
        }}
      />
      {listOpen && (
        <ul className="wc-suggest" role="listbox" id={listId} aria-label="Canned replies">
          {suggestions.map((r, i) => (
            <li
              key={r.id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === activeIndex}
              className={i === activeIndex ? 'wc-active' : ''}
              onMouseDown={(e) => {
                e.preventDefault(); // keep the focus in the box
                pick(r);
              }}
            >
              <code>{r.shortcut}</code> {r.title}
            </li>
          ))}
        </ul>
      )}
      <p id={`wc-help-${id}`} className="wc-help">
        Enter sends · Shift+Enter new line · /shortcut then space or Tab inserts a canned reply
      </p>
      {error && (
        <div className="wc-error" role="alert" data-testid="composer-error">
          {error}
        </div>
      )}
      <div className="wc-composer-bar">
        <label className="wc-sr" htmlFor={`wc-canned-${id}`}>
          Insert a canned reply
        </label>
        <select
          id={`wc-canned-${id}`}
          className="wc-select"
          value=""
          disabled={canned.length === 0}
          data-testid="canned-picker"
          onChange={(e) => {
            const r = canned.find((x) => x.id === e.target.value);
            if (!r) return;
            const el = box.current;
            const s = el?.selectionStart ?? text.length;
            const en = el?.selectionEnd ?? text.length;
            const x = insertReply(text, s, en, r);
            update(x.text, x.caret);
            el?.focus();
          }}
        >
          <option value="">{canned.length ? 'Canned reply…' : 'No canned replies'}</option>
          {canned.map((r) => (
            <option key={r.id} value={r.id}>
              {r.shortcut} — {r.title}
            </option>
          ))}
        </select>
        <button
          type="submit"
          className={`wc-btn wc-btn-primary${mode === 'note' ? ' wc-btn-note' : ''}`}
          aria-disabled={busy || undefined}
          data-testid="composer-send"
        >
          {busy ? 'Sending…' : mode === 'note' ? 'Add note' : 'Send'}
        </button>
      </div>
    </form>
  );
});
