import type { Strings } from '../i18n';
import type { Handoff } from '../types';

/** Tells the shopper what happens next, from the same facts the bot's
 * message stated: in the queue with the expected wait when someone is
 * online; nobody online and an email follow-up (or a request for an email)
 * otherwise; or who has joined. Always with the case number. */
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
      kind = 'waiting';
      if (handoff.status === 'requested') text = t.personRequested;
      else if (handoff.agents_online === false) {
        text = handoff.email_follow_up ? t.offlineEmailFollowUp : t.offlineAskEmail;
        kind = 'offline';
      } else text = t.waitingForPerson;
      if (handoff.case_id) details.push(t.caseNumber(handoff.case_id));
      if (kind === 'waiting' && typeof handoff.wait_seconds === 'number') {
        details.push(t.expectedWait(handoff.wait_seconds));
      }
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
