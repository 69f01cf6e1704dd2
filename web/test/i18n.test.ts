import { describe, expect, it } from 'vitest';
import { stateLabel, strings } from '../src/i18n';

// Every order state the engine can put on an order card
// (wismo_core::dialogue::order_view::ALL_STATES).
const STATES = [
  'unpaid',
  'processing',
  'partially_shipped',
  'label_printed',
  'in_transit',
  'out_for_delivery',
  'attempted_delivery',
  'ready_for_pickup',
  'delayed',
  'late',
  'delivery_failed',
  'delivered',
  'cancelled',
  'refunded',
  'partially_refunded',
  'returned',
];

describe('order card states', () => {
  it.each(['en', 'es'] as const)('every state has a label in %s', (locale) => {
    const t = strings(locale);
    for (const s of STATES) {
      expect(t.states[s], `${locale}: ${s}`).toBeTruthy();
      expect(stateLabel(t, s)).not.toContain('_');
    }
  });
});
