import { useEffect, useLayoutEffect, useRef, type ReactNode } from 'react';
import type { Strings } from '../i18n';
import type { PendingMessage } from '../store';
import type { Message } from '../types';
import { OrderCard } from './OrderCard';

function speaker(t: Strings, m: Message): string {
  switch (m.role) {
    case 'user':
      return t.you;
    case 'bot':
      return t.assistant;
    case 'agent':
      return m.author ? `${t.agent} · ${m.author}` : t.agent;
    default:
      return t.system;
  }
}

export function MessageBubble({ message, t }: { message: Message; t: Strings }) {
  const label = speaker(t, message);
  const text =
    (message.role === 'system' && message.kind && message.author
      ? t.notice(message.kind, message.author, message.to ?? null)
      : null) ?? message.text;
  return (
    <div
      className={`wismo-msg wismo-msg-${message.role}${message.proactive ? ' wismo-proactive' : ''}`}
      data-message-id={message.id}
      data-role={message.role}
      data-proactive={message.proactive ? 'true' : undefined}
    >
      {message.role === 'agent' ? (
        <div className="wismo-msg-label">{label}</div>
      ) : message.proactive ? (
        // Sent on the store's initiative: said so, above the text.
        <div className="wismo-msg-label">
          <span className="wismo-sr">{label} · </span>
          {t.update}
        </div>
      ) : (
        <span className="wismo-sr">{label}: </span>
      )}
      {text && <div className="wismo-msg-text">{text}</div>}
      {message.order_card && <OrderCard card={message.order_card} t={t} />}
    </div>
  );
}

function PendingBubble({
  item,
  t,
  onRetry,
}: {
  item: PendingMessage;
  t: Strings;
  onRetry: (clientId: string) => void;
}) {
  const failed = item.status === 'failed';
  const reason = failed ? t.notSentReason(item.error) : null;
  return (
    <div
      className={`wismo-msg wismo-msg-user wismo-pending${failed ? ' wismo-failed' : ''}`}
      data-client-id={item.clientId}
      data-role="user"
      aria-busy={failed ? undefined : true}
    >
      <span className="wismo-sr">{t.you}: </span>
      <div className="wismo-msg-text">{item.text}</div>
      <div className="wismo-msg-meta">
        {failed && reason ? (
          <span className="wismo-failed-reason" role="alert">
            {t.notSent} {reason}
          </span>
        ) : failed ? (
          <>
            {t.notSent}{' '}
            <button type="button" className="wismo-retry" onClick={() => onRetry(item.clientId)}>
              {t.retry}
            </button>
          </>
        ) : (
          t.sending
        )}
      </div>
    </div>
  );
}

export interface MessageListProps {
  t: Strings;
  messages: Message[];
  pending: PendingMessage[];
  quickReplies: string[];
  typing: 'bot' | 'agent' | null;
  /** The agent's name, for "Alice is typing…". */
  agentName?: string | null;
  open: boolean;
  /** Shown under the messages (the "How did we do?" card). */
  footer?: ReactNode;
  emptyText: string | null;
  onQuickReply: (text: string) => void;
  onRetry: (clientId: string) => void;
}

export function MessageList(props: MessageListProps) {
  const { t, messages, pending, quickReplies, typing, open } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  // Keep the newest message in view, unless the shopper scrolled up to read.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && open && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages, pending, quickReplies, typing, open, props.footer]);

  // …also when the list's box shrinks (a banner appears, the keyboard opens).
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  return (
    <div
      className="wismo-scroll"
      ref={scroller}
      onScroll={(e) => {
        const el = e.currentTarget;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      <div className="wismo-log" role="log" aria-live="polite" aria-relevant="additions" aria-label={t.messages}>
        {messages.length === 0 && pending.length === 0 && props.emptyText && (
          <div className="wismo-empty">{props.emptyText}</div>
        )}
        {messages.map((m) => (
          <MessageBubble key={m.id} message={m} t={t} />
        ))}
        {pending.map((p) => (
          <PendingBubble key={p.clientId} item={p} t={t} onRetry={props.onRetry} />
        ))}
      </div>
      {quickReplies.length > 0 && (
        <div className="wismo-quick" role="group" aria-label={t.suggestions}>
          {quickReplies.map((q, i) => (
            <button key={`${i}:${q}`} type="button" className="wismo-quick-btn" onClick={() => props.onQuickReply(q)}>
              {q}
            </button>
          ))}
        </div>
      )}
      {typing && (
        <div className="wismo-typing" role="status">
          <span className="wismo-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          {typing === 'agent' && props.agentName ? (
            <span className="wismo-typing-name">{t.agentTypingName(props.agentName)}</span>
          ) : (
            <span className="wismo-sr">{typing === 'agent' ? t.agentTyping : t.botTyping}</span>
          )}
        </div>
      )}
      {props.footer}
    </div>
  );
}
