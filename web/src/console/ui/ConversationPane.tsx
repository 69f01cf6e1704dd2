import { useEffect, useRef, useState } from 'react';
import type { ConsoleController } from '../controller';
import { humanize, priorityText, reasonLabel } from '../format';
import { isMine, transferTargets, type ConsoleState, type ConversationEntry } from '../state';
import type { Case } from '../types';
import { ReleaseConfirm, ResolveForm, TransferForm } from './CaseForms';
import { Composer } from './Composer';
import { Sentiment } from './Sentiment';
import { Transcript } from './Transcript';

function statusText(c: Case | null, mine: boolean): string {
  if (!c) return 'Not handed off';
  switch (c.status) {
    case 'queued':
      return 'Waiting in the queue';
    case 'assigned':
      return mine ? 'Assigned to you' : `Assigned to ${c.agent?.name ?? 'another agent'}`;
    case 'resolved':
      return 'Resolved';
    case 'released':
      return 'Handed back to the bot';
  }
}

type Panel = 'transfer' | 'resolve' | 'release' | null;

export function ConversationPane({
  controller,
  state,
  entry,
}: {
  controller: ConsoleController;
  state: ConsoleState;
  entry: ConversationEntry;
}) {
  const c = entry.case;
  const mine = isMine(state, c);
  const supervisor = state.me?.role === 'supervisor';
  const canManage = !!c && c.status === 'assigned' && (mine || supervisor);
  const [panel, setPanel] = useState<Panel>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const title = useRef<HTMLHeadingElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  const triggers = useRef<Partial<Record<Exclude<Panel, null>, HTMLButtonElement | null>>>({});

  // A newly opened conversation takes the focus to its heading.
  useEffect(() => {
    setPanel(null);
    setError(null);
    title.current?.focus();
  }, [entry.id]);

  const closePanel = (focusTrigger = true) => {
    const p = panel;
    setPanel(null);
    if (focusTrigger && p) triggers.current[p]?.focus();
  };
  const toggle = (p: Exclude<Panel, null>) => {
    setError(null);
    if (panel === p) closePanel();
    else setPanel(p);
  };
  /** After an action that changes who owns the case: back to the heading. */
  const done = (err: string | null) => {
    if (!err) {
      setPanel(null);
      title.current?.focus();
    }
    return err;
  };

  const headId = 'wc-conv-title';
  return (
    <section className="wc-conv" aria-labelledby={headId} data-testid="conversation" data-conversation-id={entry.id}>
      <header className="wc-conv-head">
        <div className="wc-conv-titles">
          <h2 id={headId} ref={title} tabIndex={-1} className="wc-conv-title">
            {c ? `Case ${c.case_id}` : 'Conversation'}
            <span className="wc-conv-id"> · {entry.id}</span>
          </h2>
          <p className="wc-conv-status" data-testid="case-status">
            <span className={`wc-status wc-status-${c?.status ?? 'none'}`}>{statusText(c, mine)}</span>
            {c && (
              <>
                {' · '}
                {reasonLabel(c.reason)} · <span className={`wc-prio wc-prio-label-${c.priority_label}`}>{priorityText(c.priority_label)}</span>
                {c.intent && ` · Intent: ${humanize(c.intent)}`}
                {' · '}
                <Sentiment sentiment={c.sentiment} />
              </>
            )}
            {entry.meta?.locale && ` · ${entry.meta.locale.toUpperCase()}`}
            {entry.meta?.channel && ` · ${entry.meta.channel}`}
          </p>
          {c?.offline && c.status === 'queued' && (
            <p className="wc-offline-note" data-testid="offline-note">
              Offline case: no agent was online.{c.contact_email ? ` The shopper left ${c.contact_email} for a reply by email.` : ''}
            </p>
          )}
        </div>
        <div className="wc-actions" role="group" aria-label="Case actions">
          {c?.status === 'queued' && (
            <button
              type="button"
              className="wc-btn wc-btn-primary"
              aria-disabled={busy || undefined}
              data-testid="accept"
              onClick={async () => {
                if (busy) return;
                setBusy(true);
                setError(null);
                const err = await controller.accept(entry.id);
                setBusy(false);
                setError(err);
                if (!err) composer.current?.focus();
              }}
            >
              {busy ? 'Accepting…' : 'Accept'}
            </button>
          )}
          {canManage && (
            <>
              <button
                ref={(el) => (triggers.current.transfer = el)}
                type="button"
                className="wc-btn"
                aria-expanded={panel === 'transfer'}
                aria-controls={panel === 'transfer' ? 'wc-transfer' : undefined}
                data-testid="transfer"
                onClick={() => toggle('transfer')}
              >
                Transfer…
              </button>
              <button
                ref={(el) => (triggers.current.release = el)}
                type="button"
                className="wc-btn"
                aria-expanded={panel === 'release'}
                data-testid="release"
                onClick={() => toggle('release')}
              >
                Hand back to bot
              </button>
              <button
                ref={(el) => (triggers.current.resolve = el)}
                type="button"
                className="wc-btn wc-btn-good"
                aria-expanded={panel === 'resolve'}
                aria-controls={panel === 'resolve' ? 'wc-resolve' : undefined}
                data-testid="resolve"
                onClick={() => toggle('resolve')}
              >
                Resolve…
              </button>
            </>
          )}
          <button type="button" className="wc-btn wc-btn-quiet" onClick={() => controller.close()}>
            Close<span className="wc-sr"> conversation</span>
          </button>
        </div>
      </header>
      {error && (
        <div className="wc-error wc-conv-error" role="alert" data-testid="action-error">
          {error}
        </div>
      )}
      {entry.status === 'error' && entry.error && (
        <div className="wc-error wc-conv-error" role="alert">
          Could not load the conversation: {entry.error}{' '}
          <button type="button" className="wc-link" onClick={() => void controller.refresh(entry.id)}>
            Try again
          </button>
        </div>
      )}
      {c && panel === 'transfer' && (
        <TransferForm
          caseId={c.case_id}
          agents={transferTargets(state)}
          onCancel={() => closePanel()}
          onSubmit={async (agentId) => done(await controller.transfer(entry.id, agentId))}
        />
      )}
      {c && panel === 'release' && (
        <ReleaseConfirm onCancel={() => closePanel()} onConfirm={async () => done(await controller.release(entry.id))} />
      )}
      {c && panel === 'resolve' && (
        <ResolveForm
          caseId={c.case_id}
          onCancel={() => closePanel()}
          onSubmit={async (outcome, tags) => done(await controller.resolve(entry.id, outcome, tags))}
        />
      )}
      <Transcript messages={entry.messages} loading={entry.status === 'loading'} />
      <Composer
        key={entry.id}
        ref={composer}
        controller={controller}
        conversationId={entry.id}
        canReply={mine}
        canned={state.canned}
      />
    </section>
  );
}
