import { formatMoney, formatWait, formatWaitLong, humanize, liveWaitSeconds, priorityText, reasonLabel } from '../format';
import type { Case } from '../types';
import { ClockIcon } from './icons';
import { Sentiment } from './Sentiment';

function CaseDetails({ c, wait, idBase }: { c: Case; wait: number | null; idBase: string }) {
  return (
    <span className="wc-case-meta" id={`${idBase}-details`}>
      {wait !== null && (
        <span className="wc-wait" data-testid="queue-wait">
          <ClockIcon /> <span aria-hidden="true">{formatWait(wait)}</span>
          <span className="wc-sr">Waiting {formatWaitLong(wait)}.</span>
        </span>
      )}
      <Sentiment sentiment={c.sentiment} />
      {c.intent && <span className="wc-chip">Intent: {humanize(c.intent)}</span>}
      {c.order && (
        <span className="wc-chip wc-chip-order" title="Verified order">
          Order #{c.order.order_number}
          {c.order.state ? ` · ${humanize(c.order.state)}` : ''}
          {c.order.total ? ` · ${formatMoney(c.order.total, c.order.currency)}` : ''}
          <span className="wc-sr"> (verified)</span>
        </span>
      )}
      {c.offline && c.status === 'queued' && (
        <span className="wc-chip wc-chip-offline">
          Offline{c.contact_email ? ` · reply by email to ${c.contact_email}` : ''}
        </span>
      )}
      {!(c.offline && c.status === 'queued') && c.contact_email && <span className="wc-chip">Email: {c.contact_email}</span>}
      {c.locale && <span className="wc-chip">{c.locale.toUpperCase()}</span>}
    </span>
  );
}

export interface CaseListProps {
  cases: Case[];
  kind: 'queue' | 'mine';
  openId: string | null;
  unread?: Record<string, true>;
  snapshotAt: number;
  now: number;
  empty: string;
  onOpen: (conversationId: string) => void;
}

/** The queue (live waits, priority, mood, intent, order, offline) or my
 * conversations. Each item is one button that opens the conversation. */
export function CaseList({ cases, kind, openId, unread = {}, snapshotAt, now, empty, onOpen }: CaseListProps) {
  if (cases.length === 0) return <p className="wc-empty">{empty}</p>;
  return (
    <ul className="wc-cases" data-testid={kind === 'queue' ? 'queue' : 'mine'}>
      {cases.map((c) => {
        const idBase = `wc-${kind}-${c.conversation_id}`;
        const current = c.conversation_id === openId;
        const isNew = !!unread[c.conversation_id];
        const wait = kind === 'queue' ? liveWaitSeconds(c, snapshotAt, now) : null;
        const label = `${c.case_id}: ${reasonLabel(c.reason)}, ${priorityText(c.priority_label).toLowerCase()}${isNew ? ', new activity' : ''}`;
        return (
          <li
            key={c.conversation_id}
            className={`wc-case wc-prio-${c.priority_label}${current ? ' wc-current' : ''}`}
            data-testid={kind === 'queue' ? 'queue-item' : 'mine-item'}
            data-conversation-id={c.conversation_id}
            data-case-id={c.case_id}
          >
            <button
              type="button"
              className="wc-case-btn"
              aria-label={label}
              aria-describedby={`${idBase}-details ${idBase}-last`}
              aria-current={current ? 'true' : undefined}
              onClick={() => onOpen(c.conversation_id)}
            >
              <span className="wc-case-top">
                <span className="wc-case-id">{c.case_id}</span>
                <span className={`wc-prio wc-prio-label-${c.priority_label}`}>{c.priority_label}</span>
                {isNew && (
                  <span className="wc-dot" aria-hidden="true" title="New activity">
                    ●
                  </span>
                )}
              </span>
              <span className="wc-case-reason">{reasonLabel(c.reason)}</span>
              <CaseDetails c={c} wait={wait} idBase={idBase} />
              <span className="wc-case-last" id={`${idBase}-last`}>
                {c.last_message ? `“${c.last_message.text}”` : ''}
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
