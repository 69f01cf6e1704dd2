import { useEffect, useRef, useState } from 'react';
import type { ConsoleController } from '../controller';
import { openEntry, type ConsoleState } from '../state';
import { CannedManager } from './CannedManager';
import { CaseList } from './CaseList';
import { ConversationPane } from './ConversationPane';
import { useAnnouncement, useConsoleState, useNow, usePrefs } from './hooks';
import { OrderPanel } from './OrderPanel';
import { Roster } from './Roster';
import { SignIn } from './SignIn';
import { StoreEditor } from './StoreEditor';

const STREAM_TEXT: Record<ConsoleState['stream'], string> = {
  off: 'Offline',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

export function ConsoleApp({ controller, now = Date.now }: { controller: ConsoleController; now?: () => number }) {
  const state = useConsoleState(controller);
  const announcement = useAnnouncement(controller);
  return (
    <>
      {/* One polite live region for the whole page, always present. */}
      <div className="wc-sr" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
        {announcement.text ? <span key={announcement.n}>{announcement.text}</span> : null}
      </div>
      {state.auth === 'checking' && (
        <main className="wc-signin" aria-busy="true">
          <p className="wc-muted">Loading…</p>
        </main>
      )}
      {state.auth === 'signed-out' && <SignIn controller={controller} notice={state.authNotice} />}
      {state.auth === 'signed-in' && <Workspace controller={controller} state={state} now={now} />}
    </>
  );
}

function AlertControls({ controller }: { controller: ConsoleController }) {
  const prefs = usePrefs(controller);
  return (
    <div className="wc-alerts" role="group" aria-label="Alerts for new hand-offs">
      <button
        type="button"
        className="wc-btn wc-btn-small"
        aria-pressed={prefs.soundOn}
        data-testid="sound-toggle"
        onClick={() => controller.setSound(!prefs.soundOn)}
      >
        Sound {prefs.soundOn ? 'on' : 'off'}
      </button>
      <button type="button" className="wc-btn wc-btn-small" onClick={() => controller.testSound()}>
        Test sound
      </button>
      {prefs.permission === 'default' && (
        <button
          type="button"
          className="wc-btn wc-btn-small"
          data-testid="enable-notifications"
          onClick={() => void controller.enableNotifications()}
        >
          Enable desktop notifications
        </button>
      )}
      {prefs.permission === 'granted' && <span className="wc-muted">Desktop notifications on</span>}
      {prefs.permission === 'denied' && (
        <span className="wc-muted">Desktop notifications are blocked in this browser's site settings</span>
      )}
    </div>
  );
}

function Workspace({ controller, state, now }: { controller: ConsoleController; state: ConsoleState; now: () => number }) {
  const t = useNow(now);
  const queueHeading = useRef<HTMLHeadingElement>(null);
  const entry = openEntry(state);
  const me = state.me!;
  const supervisor = me.role === 'supervisor';
  const [storeOpen, setStoreOpen] = useState(false);
  const showStore = supervisor && storeOpen;

  useEffect(() => {
    queueHeading.current?.focus();
  }, []);

  useEffect(() => {
    const n = state.queue.length;
    document.title = n ? `(${n}) wismo console` : 'wismo console';
    return () => {
      document.title = 'wismo console';
    };
  }, [state.queue.length]);

  const mineCount = state.mine.length;
  const openCase = entry?.case ?? null;
  return (
    <div className="wc-app">
      <a className="wc-skip" href="#wc-main">
        Skip to the conversation
      </a>
      <header className="wc-top">
        <h1 className="wc-brand">
          wismo <span>console</span>
        </h1>
        <span className={`wc-stream wc-stream-${state.stream}`} data-testid="stream-status">
          <span aria-hidden="true">● </span>
          {STREAM_TEXT[state.stream]}
        </span>
        <AlertControls controller={controller} />
        {supervisor && (
          <button
            type="button"
            className="wc-btn wc-btn-small"
            aria-pressed={showStore}
            data-testid="store-toggle"
            onClick={() => setStoreOpen(!storeOpen)}
          >
            {showStore ? 'Back to cases' : 'Store'}
          </button>
        )}
        <span className="wc-me">
          {me.name}
          {me.role === 'supervisor' ? ' (supervisor)' : ''} · {mineCount}/{me.max_chats} chats
        </span>
        <button type="button" className="wc-btn wc-btn-small" data-testid="sign-out" onClick={() => void controller.signOut()}>
          Sign out
        </button>
      </header>
      {showStore ? (
        <main id="wc-main" className="wc-store-main" tabIndex={-1}>
          <StoreEditor api={controller.api} />
        </main>
      ) : (
        <>
          <nav className="wc-side" aria-label="Cases">
            <section aria-labelledby="wc-queue-title">
              <h2 id="wc-queue-title" className="wc-panel-title" tabIndex={-1} ref={queueHeading}>
                Queue <span className="wc-count">{state.queue.length}</span>
              </h2>
              <CaseList
                kind="queue"
                cases={state.queue}
                openId={state.openId}
                snapshotAt={state.snapshotAt}
                now={t}
                empty={state.haveSnapshot ? 'Nobody is waiting.' : 'Loading the queue…'}
                onOpen={(id) => void controller.open(id)}
              />
            </section>
            <section aria-labelledby="wc-mine-title">
              <h2 id="wc-mine-title" className="wc-panel-title">
                My conversations <span className="wc-count">{mineCount}</span>
              </h2>
              <CaseList
                kind="mine"
                cases={state.mine}
                openId={state.openId}
                unread={state.unread}
                snapshotAt={state.snapshotAt}
                now={t}
                empty="None assigned to you."
                onOpen={(id) => void controller.open(id)}
              />
            </section>
          </nav>
          <main id="wc-main" className="wc-main" tabIndex={-1}>
            {entry ? (
              <ConversationPane controller={controller} state={state} entry={entry} />
            ) : (
              <div className="wc-placeholder">
                <h2 className="wc-panel-title">No conversation open</h2>
                <p className="wc-muted">Choose a case from the queue or from your conversations.</p>
              </div>
            )}
          </main>
          <aside className="wc-aside" aria-label="Details">
            {entry && <OrderPanel order={entry.order} summary={openCase?.order ?? null} />}
            <Roster agents={state.agents} meId={me.id} />
            <CannedManager controller={controller} replies={state.canned} />
          </aside>
        </>
      )}
    </div>
  );
}
