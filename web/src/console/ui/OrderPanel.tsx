import { safeHttpUrl } from '../../ui/OrderCard';
import { formatMoney, humanize } from '../format';
import type { Case, OrderDetail } from '../types';

/** An address object as lines: name, company, street lines, "city, region
 * postcode", country, then anything else it has. */
export function addressLines(a: Record<string, string>): string[] {
  const pick = (...keys: string[]) => keys.map((k) => a[k]).find((v) => v && v.trim()) ?? '';
  const used = new Set(['name', 'company', 'line1', 'address1', 'line2', 'address2', 'city', 'region', 'province', 'state', 'postal_code', 'zip', 'country', 'country_code']);
  const region = [pick('region', 'province', 'state'), pick('postal_code', 'zip')].filter(Boolean).join(' ');
  const lines = [
    pick('name'),
    pick('company'),
    pick('line1', 'address1'),
    pick('line2', 'address2'),
    [pick('city'), region].filter(Boolean).join(', '),
    pick('country', 'country_code'),
    ...Object.keys(a).filter((k) => !used.has(k)).map((k) => a[k]),
  ];
  return lines.map((l) => l.trim()).filter(Boolean);
}

/** The verified order: items, totals, shipping address and tracking. */
export function OrderPanel({ order, summary }: { order: OrderDetail | null; summary: Case['order'] | null }) {
  const title = order ? `Order #${order.order_number}` : summary ? `Order #${summary.order_number}` : 'Order';
  return (
    <section className="wc-panel wc-order" aria-labelledby="wc-order-title" data-testid="order-panel">
      <h2 id="wc-order-title" className="wc-panel-title">
        {title} {(order || summary) && <span className="wc-verified">Verified</span>}
      </h2>
      {!order && !summary && <p className="wc-empty">No verified order in this conversation.</p>}
      {!order && summary && (
        <dl className="wc-dl">
          <dt>Status</dt>
          <dd>{humanize(summary.state)}</dd>
          <dt>Total</dt>
          <dd>{formatMoney(summary.total, summary.currency)}</dd>
        </dl>
      )}
      {order && <OrderBody order={order} />}
    </section>
  );
}

function OrderBody({ order }: { order: OrderDetail }) {
  const url = safeHttpUrl(order.tracking_url);
  return (
    <>
      <dl className="wc-dl">
        <dt>Status</dt>
        <dd>{humanize(order.state)}</dd>
        {order.placed_at && (
          <>
            <dt>Placed</dt>
            <dd>{order.placed_at.slice(0, 10)}</dd>
          </>
        )}
        <dt>Total</dt>
        <dd>{formatMoney(order.total, order.currency)}</dd>
        {order.email && (
          <>
            <dt>Email</dt>
            <dd>{order.email}</dd>
          </>
        )}
        {order.carrier && (
          <>
            <dt>Carrier</dt>
            <dd>{order.carrier}</dd>
          </>
        )}
        {(order.tracking_number || url) && (
          <>
            <dt>Tracking</dt>
            <dd>
              {url ? (
                <a href={url} target="_blank" rel="noopener noreferrer">
                  {order.tracking_number || 'Track'}
                  <span className="wc-sr"> (opens in a new tab)</span>
                </a>
              ) : (
                order.tracking_number
              )}
            </dd>
          </>
        )}
        {order.eta && (
          <>
            <dt>Delivery</dt>
            <dd>{order.eta}</dd>
          </>
        )}
      </dl>
      {order.items.length > 0 && (
        <table className="wc-items">
          <caption className="wc-sr">Items in order #{order.order_number}</caption>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Qty</th>
              <th scope="col">Price</th>
            </tr>
          </thead>
          <tbody>
            {order.items.map((it, i) => (
              <tr key={i}>
                <td>{it.name}</td>
                <td>{it.quantity}</td>
                <td>{formatMoney(it.price, order.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {order.shipping_address && (
        <div className="wc-address">
          <h3 className="wc-subtitle">Ships to</h3>
          <address>
            {addressLines(order.shipping_address).map((l, i) => (
              <div key={i}>{l}</div>
            ))}
          </address>
        </div>
      )}
    </>
  );
}
