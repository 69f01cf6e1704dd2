import type { Strings } from '../i18n';
import { stateLabel } from '../i18n';
import type { OrderCard as Card } from '../types';

/** The URL if it is a well-formed http(s) one, else null: nothing else becomes a link. */
export function safeHttpUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export function OrderCard({ card, t }: { card: Card; t: Strings }) {
  const title = t.order(card.order_number);
  const state = stateLabel(t, card.state);
  const stateKey = card.state.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const url = safeHttpUrl(card.tracking_url);
  const tracking = card.tracking_number || (url ? t.tracking : null);
  return (
    <div className="wismo-card" role="group" aria-label={title}>
      <div className="wismo-card-head">
        <span className="wismo-card-title">{title}</span>
        {state && <span className={`wismo-badge wismo-state-${stateKey}`}>{state}</span>}
      </div>
      <dl className="wismo-card-fields">
        {card.items.length > 0 && (
          <div className="wismo-card-row">
            <dt>{t.items}</dt>
            <dd>
              <ul className="wismo-card-items">
                {card.items.map((item, i) => (
                  <li key={i}>{item}</li>
                ))}
              </ul>
            </dd>
          </div>
        )}
        {card.carrier && (
          <div className="wismo-card-row">
            <dt>{t.carrier}</dt>
            <dd>{card.carrier}</dd>
          </div>
        )}
        {tracking && (
          <div className="wismo-card-row">
            <dt>{t.tracking}</dt>
            <dd>
              {url ? (
                <a className="wismo-card-link" href={url} target="_blank" rel="noopener noreferrer">
                  {tracking}
                  <span className="wismo-sr"> {t.opensInNewTab}</span>
                </a>
              ) : (
                tracking
              )}
            </dd>
          </div>
        )}
        {card.eta && (
          <div className="wismo-card-row">
            <dt>{t.eta}</dt>
            <dd>{card.eta}</dd>
          </div>
        )}
      </dl>
    </div>
  );
}
