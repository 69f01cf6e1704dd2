import type { Strings } from '../i18n';
import type { Handoff } from '../types';

/** Tells the shopper a person is on the way (with the case number and the
 * expected wait, when the server gives them), or who has joined. */
export function HandoffBanner({
  handoff,
  agent,
  t,
}: {
  handoff: Handoff;
  agent: string | null;
  t: Strings;
}) {
  let text: string;
  let kind: string;
  const details: string[] = [];
  switch (handoff.status) {
    case 'requested':
    case 'queued':
      text = handoff.status === 'queued' ? t.waitingForPerson : t.personRequested;
      kind = 'waiting';
      if (handoff.case_id) details.push(t.caseNumber(handoff.case_id));
      if (typeof handoff.wait_seconds === 'number') details.push(t.expectedWait(handoff.wait_seconds));
      break;
    case 'assigned':
      text = t.agentJoined(agent);
      kind = 'assigned';
      break;
    default:
      return null;
  }
  return (
    <div className={`wismo-handoff wismo-handoff-${kind}`} role="status" data-status={handoff.status}>
      <div className="wismo-handoff-text">{text}</div>
      {details.length > 0 && <div className="wismo-handoff-meta">{details.join(' · ')}</div>}
    </div>
  );
}
