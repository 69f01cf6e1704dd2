import { useEffect, useRef, useState } from 'react';
import { OUTCOME_LABELS, parseTags } from '../format';
import { OUTCOMES, type Outcome, type RosterAgent } from '../types';
import type { Result } from '../controller';

function useFirstFocus<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return ref;
}

function onEscape(cancel: () => void) {
  return (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      cancel();
    }
  };
}

/** Outcome and tags → POST …/resolve. */
export function ResolveForm({
  caseId,
  onSubmit,
  onCancel,
}: {
  caseId: string;
  onSubmit: (outcome: Outcome, tags: string[]) => Promise<Result>;
  onCancel: () => void;
}) {
  const [outcome, setOutcome] = useState('');
  const [tagText, setTagText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [outcomeError, setOutcomeError] = useState<string | null>(null);
  const first = useFirstFocus<HTMLSelectElement>();
  const parsed = parseTags(tagText);

  return (
    <form
      id="wc-resolve"
      noValidate
      className="wc-subform"
      aria-labelledby="wc-resolve-title"
      data-testid="resolve-form"
      onKeyDown={onEscape(onCancel)}
      onSubmit={async (e) => {
        e.preventDefault();
        if (busy) return;
        if (!OUTCOMES.includes(outcome as Outcome)) {
          setOutcomeError('Choose an outcome.');
          first.current?.focus();
          return;
        }
        if (parsed.error) {
          setError(parsed.error);
          return;
        }
        setBusy(true);
        setError(null);
        const err = await onSubmit(outcome as Outcome, parsed.tags);
        setBusy(false);
        if (err) setError(err);
      }}
    >
      <h3 id="wc-resolve-title" className="wc-subtitle">
        Resolve case {caseId}
      </h3>
      <div className="wc-field">
        <label htmlFor="wc-outcome">Outcome</label>
        <select
          ref={first}
          id="wc-outcome"
          className="wc-select"
          value={outcome}
          required
          aria-invalid={outcomeError ? true : undefined}
          aria-describedby={outcomeError ? 'wc-outcome-error' : undefined}
          data-testid="resolve-outcome"
          onChange={(e) => {
            setOutcome(e.target.value);
            setOutcomeError(null);
          }}
        >
          <option value="">Choose an outcome…</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {OUTCOME_LABELS[o]}
            </option>
          ))}
        </select>
        {outcomeError && (
          <p id="wc-outcome-error" className="wc-field-error">
            {outcomeError}
          </p>
        )}
      </div>
      <div className="wc-field">
        <label htmlFor="wc-tags">Tags</label>
        <input
          id="wc-tags"
          className="wc-text"
          value={tagText}
          placeholder="damaged, late delivery"
          aria-describedby="wc-tags-help"
          aria-invalid={parsed.error ? true : undefined}
          data-testid="resolve-tags"
          onChange={(e) => setTagText(e.target.value)}
        />
        <p id="wc-tags-help" className="wc-help">
          Optional. Separate with commas; up to 10 tags of up to 40 characters.
          {parsed.tags.length > 0 && ` ${parsed.tags.length} tag${parsed.tags.length === 1 ? '' : 's'}: ${parsed.tags.join(', ')}.`}
        </p>
      </div>
      {error && (
        <div className="wc-error" role="alert">
          {error}
        </div>
      )}
      <div className="wc-row">
        <button type="submit" className="wc-btn wc-btn-primary" aria-disabled={busy || undefined} data-testid="resolve-submit">
          {busy ? 'Resolving…' : 'Resolve case'}
        </button>
        <button type="button" className="wc-btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** An online agent → POST …/transfer. */
export function TransferForm({
  caseId,
  agents,
  onSubmit,
  onCancel,
}: {
  caseId: string;
  agents: RosterAgent[];
  onSubmit: (agentId: string) => Promise<Result>;
  onCancel: () => void;
}) {
  const [agentId, setAgentId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const first = useFirstFocus<HTMLSelectElement>();
  return (
    <form
      id="wc-transfer"
      noValidate
      className="wc-subform"
      aria-labelledby="wc-transfer-title"
      data-testid="transfer-form"
      onKeyDown={onEscape(onCancel)}
      onSubmit={async (e) => {
        e.preventDefault();
        if (busy) return;
        if (!agentId) {
          setError('Choose an agent.');
          first.current?.focus();
          return;
        }
        setBusy(true);
        setError(null);
        const err = await onSubmit(agentId);
        setBusy(false);
        if (err) setError(err);
      }}
    >
      <h3 id="wc-transfer-title" className="wc-subtitle">
        Transfer case {caseId}
      </h3>
      {agents.length === 0 ? (
        <p className="wc-empty">No other agent is online right now.</p>
      ) : (
        <div className="wc-field">
          <label htmlFor="wc-transfer-agent">Transfer to</label>
          <select
            ref={first}
            id="wc-transfer-agent"
            className="wc-select"
            value={agentId}
            data-testid="transfer-agent"
            onChange={(e) => {
              setAgentId(e.target.value);
              setError(null);
            }}
          >
            <option value="">Choose an online agent…</option>
            {agents.map((a) => {
              const full = a.max_chats > 0 && a.active_chats >= a.max_chats;
              return (
                <option key={a.id} value={a.id} disabled={full}>
                  {a.name} — {a.active_chats}/{a.max_chats} chats{full ? ' (full)' : ''}
                </option>
              );
            })}
          </select>
        </div>
      )}
      {error && (
        <div className="wc-error" role="alert">
          {error}
        </div>
      )}
      <div className="wc-row">
        {agents.length > 0 && (
          <button type="submit" className="wc-btn wc-btn-primary" aria-disabled={busy || undefined} data-testid="transfer-submit">
            {busy ? 'Transferring…' : 'Transfer'}
          </button>
        )}
        <button type="button" className="wc-btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** "Hand back to the bot?" — a second click, so a slip does not drop a shopper. */
export function ReleaseConfirm({ onConfirm, onCancel }: { onConfirm: () => Promise<Result>; onCancel: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const first = useFirstFocus<HTMLButtonElement>();
  return (
    <div className="wc-subform" role="group" aria-labelledby="wc-release-title" onKeyDown={onEscape(onCancel)}>
      <h3 id="wc-release-title" className="wc-subtitle">
        Hand back to the bot?
      </h3>
      <p className="wc-help">The bot answers the shopper again; the case leaves your list.</p>
      {error && (
        <div className="wc-error" role="alert">
          {error}
        </div>
      )}
      <div className="wc-row">
        <button
          ref={first}
          type="button"
          className="wc-btn wc-btn-primary"
          aria-disabled={busy || undefined}
          data-testid="release-confirm"
          onClick={async () => {
            if (busy) return;
            setBusy(true);
            const err = await onConfirm();
            setBusy(false);
            setError(err);
          }}
        >
          {busy ? 'Handing back…' : 'Yes, hand back'}
        </button>
        <button type="button" className="wc-btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
