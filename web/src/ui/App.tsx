import { useEffect, useRef, useState, useSyncExternalStore, type CSSProperties } from 'react';
import { textOn, type WidgetConfig } from '../config';
import { strings } from '../i18n';
import { agentName, currentQuickReplies, shouldAskCsat, unreadCount } from '../store';
import type { Widget } from '../widget';
import { Composer } from './Composer';
import { Csat } from './Csat';
import { HandoffBanner } from './HandoffBanner';
import { ChatIcon, CloseIcon } from './icons';
import { MessageList } from './MessageList';

function activeElement(node: Node | null): Element | null {
  const root = node?.getRootNode() as Document | ShadowRoot | undefined;
  return root && 'activeElement' in root ? root.activeElement : null;
}

/** The store's colours as the custom properties styles.css reads. */
function lookStyle(config: WidgetConfig): CSSProperties {
  const c = config.colours ?? {};
  const vars: Record<string, string> = {};
  if (config.color) {
    vars['--wismo-accent'] = config.color;
    vars['--wismo-on-accent'] = textOn(config.color);
  }
  if (c.background) vars['--wismo-bg'] = c.background;
  if (c.text) vars['--wismo-fg'] = c.text;
  if (c.bot_bubble) vars['--wismo-bot-bg'] = c.bot_bubble;
  if (c.user_bubble) {
    vars['--wismo-user-bg'] = c.user_bubble;
    vars['--wismo-on-user'] = textOn(c.user_bubble);
  }
  return vars as CSSProperties;
}

/** The store's avatar: decorative, and gone if it does not load. */
function Avatar({ src }: { src: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) return null;
  return (
    <img
      className="wismo-avatar"
      src={src}
      alt=""
      width={36}
      height={36}
      referrerPolicy="no-referrer"
      onError={() => setFailed(true)}
    />
  );
}

export function App({ widget }: { widget: Widget }) {
  const view = useSyncExternalStore(widget.subscribeView, widget.getView, widget.getView);
  const chat = useSyncExternalStore(widget.store.subscribe, widget.store.getState, widget.store.getState);
  const t = strings(view.locale);
  const rootRef = useRef<HTMLDivElement>(null);
  const launcherRef = useRef<HTMLButtonElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const first = useRef(true);

  useEffect(() => {
    widget.hasFocus = () => {
      const root = rootRef.current;
      const active = activeElement(root);
      return !!root && !!active && root.contains(active);
    };
  }, [widget]);

  // Focus moves into the panel when it opens, and back to the launcher when
  // it closes (if it was in the widget).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      if (!view.open) return;
    }
    if (view.open) inputRef.current?.focus();
    else if (view.restoreFocus) launcherRef.current?.focus();
  }, [view.open, view.restoreFocus]);

  const { config } = widget;
  const quickReplies = currentQuickReplies(chat);
  const status =
    chat.connection === 'reconnecting' ? t.reconnecting : null;
  const name = agentName(chat);
  const unread = view.open ? 0 : unreadCount(chat);
  const csat =
    shouldAskCsat(chat) || (chat.csat === 'thanked' && chat.handoff.status === 'resolved') ? (
      <Csat t={t} state={chat.csat} onSubmit={widget.submitCsat} />
    ) : null;
  // The store's greeting until the server's first messages arrive.
  const emptyText =
    chat.connection === 'connecting' || chat.connection === 'reconnecting'
      ? config.greeting?.[view.locale] || t.connecting
      : null;

  return (
    <div
      ref={rootRef}
      className={`wismo-root wismo-${config.position}${view.open ? ' wismo-is-open' : ''}`}
      style={lookStyle(config)}
      lang={view.locale}
      dir="ltr"
    >
      <section
        id="wismo-panel"
        className="wismo-panel"
        role="dialog"
        aria-modal="false"
        aria-labelledby="wismo-title"
        hidden={!view.open}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            widget.close();
          }
        }}
      >
        <header className="wismo-header">
          {config.avatar && <Avatar key={config.avatar} src={config.avatar} />}
          <div className="wismo-heading">
            <h2 id="wismo-title" className="wismo-title">
              {config.titles?.[view.locale] || t.title}
            </h2>
            <p className="wismo-subtitle">{t.subtitle}</p>
          </div>
          <button type="button" className="wismo-close" aria-label={t.closeChat} onClick={widget.close}>
            <CloseIcon />
          </button>
        </header>
        {status && (
          <div className="wismo-conn" role="status" data-connection={chat.connection}>
            {status}
          </div>
        )}
        <HandoffBanner handoff={chat.handoff} agent={name} t={t} />
        <MessageList
          t={t}
          messages={chat.messages}
          pending={chat.pending}
          quickReplies={quickReplies}
          typing={chat.typing}
          agentName={name}
          open={view.open}
          footer={csat}
          emptyText={emptyText}
          onQuickReply={(text) => {
            widget.send(text);
            inputRef.current?.focus();
          }}
          onRetry={widget.retry}
        />
        <Composer ref={inputRef} t={t} onSend={widget.send} onTyping={widget.typing} />
      </section>
      <button
        ref={launcherRef}
        type="button"
        className="wismo-launcher"
        aria-label={view.open ? t.closeChat : unread ? t.openChatUnread(unread) : t.openChat}
        aria-expanded={view.open}
        aria-controls="wismo-panel"
        onClick={widget.toggle}
      >
        {view.open ? <CloseIcon /> : <ChatIcon />}
        {unread > 0 && (
          <span className="wismo-badge" data-testid="unread-badge" aria-hidden="true">
            {unread > 9 ? '9+' : unread}
          </span>
        )}
      </button>
    </div>
  );
}
