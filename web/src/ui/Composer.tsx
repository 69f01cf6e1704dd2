import { forwardRef, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Strings } from '../i18n';
import { SendIcon } from './icons';

export const MAX_CHARS = 2000;
const TYPING_IDLE_MS = 3000;

export interface ComposerProps {
  t: Strings;
  onSend: (text: string) => void;
  onTyping: (on: boolean) => void;
}

/** The message box: Enter sends, Shift+Enter starts a new line. */
export const Composer = forwardRef<HTMLTextAreaElement, ComposerProps>(function Composer(
  { t, onSend, onTyping },
  ref,
) {
  const [text, setText] = useState('');
  const box = useRef<HTMLTextAreaElement | null>(null);
  const typing = useRef(false);
  const idle = useRef<ReturnType<typeof setTimeout> | null>(null);

  const stopTyping = () => {
    if (idle.current) clearTimeout(idle.current);
    idle.current = null;
    if (typing.current) {
      typing.current = false;
      onTyping(false);
    }
  };

  useEffect(() => () => {
    if (idle.current) clearTimeout(idle.current);
  }, []);

  // Grow with the text, up to the CSS max-height.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = 'auto';
    if (el.scrollHeight > 0) el.style.height = `${el.scrollHeight}px`;
  }, [text]);

  const submit = () => {
    const value = text.trim();
    if (!value) return;
    stopTyping();
    onSend(value);
    setText('');
  };

  return (
    <form
      className="wismo-composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <textarea
        ref={(el) => {
          box.current = el;
          if (typeof ref === 'function') ref(el);
          else if (ref) ref.current = el;
        }}
        className="wismo-input"
        aria-label={t.messageLabel}
        placeholder={t.placeholder}
        rows={1}
        maxLength={MAX_CHARS}
        value={text}
        onChange={(e) => {
          const v = e.target.value;
          setText(v);
          if (!v.trim()) {
            stopTyping();
            return;
          }
          if (!typing.current) {
            typing.current = true;
            onTyping(true);
          }
          if (idle.current) clearTimeout(idle.current);
          idle.current = setTimeout(stopTyping, TYPING_IDLE_MS);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      <button type="submit" className="wismo-send" aria-label={t.send} disabled={!text.trim()}>
        <SendIcon />
      </button>
    </form>
  );
});
