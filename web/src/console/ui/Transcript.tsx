import { useEffect, useLayoutEffect, useRef } from 'react';
import { humanize } from '../format';
import type { ConsoleMessage } from '../types';
import { clock } from './hooks';
import { LockIcon } from './icons';

export const NOTE_WARNING = 'Internal note — the shopper never sees this';

function who(m: ConsoleMessage): string {
  switch (m.role) {
    case 'user':
      return 'Shopper';
    case 'bot':
      return 'Bot';
    case 'agent':
      return m.agent ? `${m.agent} (agent)` : 'Agent';
    case 'note':
      return m.agent ? `Note by ${m.agent}` : 'Note';
    default:
      return 'System';
  }
}

function Row({ m }: { m: ConsoleMessage }) {
  const time = clock(m.created_at);
  if (m.role === 'system') {
    return (
      <div className="wc-msg wc-msg-system" data-message-id={m.id} data-role="system">
        <span className="wc-sr">System: </span>
        <span className="wc-msg-text">{m.text}</span>
        {time && <time dateTime={m.created_at}> · {time}</time>}
      </div>
    );
  }
  return (
    <div className={`wc-msg wc-msg-${m.role}`} data-message-id={m.id} data-role={m.role}>
      {m.role === 'note' && (
        <div className="wc-note-flag">
          <LockIcon />{' '}
          {NOTE_WARNING}
        </div>
      )}
      <div className="wc-msg-head">
        <span className="wc-msg-who">{who(m)}</span>
        {time && <time dateTime={m.created_at}>{time}</time>}
      </div>
      {m.text && <div className="wc-msg-text">{m.text}</div>}
      {m.order_card && (
        <div className="wc-msg-extra">
          Order card: #{m.order_card.order_number}
          {m.order_card.state ? ` · ${humanize(m.order_card.state)}` : ''}
        </div>
      )}
      {m.quick_replies && <div className="wc-msg-extra">Offered: {m.quick_replies.join(' · ')}</div>}
    </div>
  );
}

/** The whole conversation, every role styled apart; a polite log, so new
 * messages are read out. Text is rendered as text only. */
export function Transcript({ messages, loading }: { messages: ConsoleMessage[]; loading: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages]);

  // …also when the log's box shrinks (a form or the suggestion list opens).
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  return (
    <div
      ref={ref}
      className="wc-transcript"
      role="log"
      aria-live="polite"
      aria-relevant="additions"
      aria-label="Transcript"
      aria-busy={loading || undefined}
      tabIndex={0}
      data-testid="transcript"
      onScroll={(e) => {
        const el = e.currentTarget;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      {messages.length === 0 && <p className="wc-empty">{loading ? 'Loading the conversation…' : 'No messages yet.'}</p>}
      {messages.map((m) => (
        <Row key={m.id} m={m} />
      ))}
    </div>
  );
}
