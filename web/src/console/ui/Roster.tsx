import type { RosterAgent } from '../types';

/** Who is on: online or not, and how many chats of how many. */
export function Roster({ agents, meId }: { agents: RosterAgent[]; meId: string | null }) {
  const sorted = [...agents].sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
  return (
    <section className="wc-panel" aria-labelledby="wc-roster-title">
      <h2 id="wc-roster-title" className="wc-panel-title">
        Team
      </h2>
      {sorted.length === 0 ? (
        <p className="wc-empty">No agents yet.</p>
      ) : (
        <ul className="wc-roster" data-testid="roster">
          {sorted.map((a) => {
            const full = a.max_chats > 0 && a.active_chats >= a.max_chats;
            const pct = a.max_chats > 0 ? Math.min(100, Math.round((a.active_chats / a.max_chats) * 100)) : 0;
            return (
              <li key={a.id} className={`wc-roster-item${a.online ? ' wc-online' : ''}`} data-agent-id={a.id}>
                <span className="wc-presence" aria-hidden="true" />
                <span className="wc-roster-name">
                  {a.name}
                  {a.id === meId ? ' (you)' : ''}
                </span>
                <span className="wc-roster-state">{a.online ? 'Online' : 'Offline'}</span>
                <span className="wc-load">
                  {a.active_chats}/{a.max_chats} chats{full ? ' · full' : ''}
                  <span className="wc-bar" aria-hidden="true">
                    <span style={{ width: `${pct}%` }} className={full ? 'wc-bar-full' : ''} />
                  </span>
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
