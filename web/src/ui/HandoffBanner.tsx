import type { Strings } from '../i18n';
import type { Handoff } from '../types';

/** Tells the shopper a person is on the way, or has joined. */
export function HandoffBanner({
  handoff,
  agent,
  t,
}: {
  handoff: Handoff;
  agent: string | null;
  t: Strings;
}) {
  let text: string | null = null;
  let kind = '';
  switch (handoff.status) {
    case 'requested':
      text = t.personRequested;
      kind = 'waiting';
      break;
    case 'queued':
      text = t.waitingForPerson;
      kind = 'waiting';
      break;
    case 'assigned':
      text = t.agentJoined(agent ?? t.someone);
      kind = 'assigned';
      break;
    default:
      return null;
  }
  return (
    <div className={`wismo-handoff wismo-handoff-${kind}`} role="status" data-status={handoff.status}>
      {text}
    </div>
  );
}
