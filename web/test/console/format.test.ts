import { describe, expect, it } from 'vitest';
import {
  formatMoney,
  formatWait,
  formatWaitLong,
  humanize,
  liveWaitSeconds,
  parseTags,
  reasonLabel,
  sentimentText,
  sentimentTrend,
  sortQueue,
  sparklinePoints,
} from '../../src/console/format';
import { makeCase } from './fakes';

describe('the queue', () => {
  it('puts the highest priority first, then who waited longest, then the case number', () => {
    const cases = [
      makeCase(1, { priority: 10, waiting_seconds: 500 }),
      makeCase(2, { priority: 42, priority_label: 'high', waiting_seconds: 10 }),
      makeCase(10, { priority: 10, waiting_seconds: 900 }),
      makeCase(9, { priority: 10, waiting_seconds: 900 }),
      makeCase(4, { priority: 1, priority_label: 'low', waiting_seconds: 9999 }),
    ];
    expect(sortQueue(cases).map((c) => c.case_id)).toEqual(['H-2', 'H-9', 'H-10', 'H-1', 'H-4']);
    expect(cases[0].case_id).toBe('H-1'); // the input is left alone
  });

  it('ticks the wait of queued cases from when the snapshot arrived', () => {
    const c = makeCase(1, { waiting_seconds: 75 });
    expect(liveWaitSeconds(c, 1_000, 1_000)).toBe(75);
    expect(liveWaitSeconds(c, 1_000, 6_999)).toBe(80);
    expect(liveWaitSeconds(c, 10_000, 1_000)).toBe(75); // a clock going back never shrinks it
    expect(liveWaitSeconds({ ...c, status: 'assigned' }, 1_000, 60_000)).toBe(75);
  });

  it('formats waits short and long', () => {
    expect([0, 45, 60, 65, 3599, 3600, 3720, 86400 * 3 + 3600].map(formatWait)).toEqual([
      '0s',
      '45s',
      '1m 00s',
      '1m 05s',
      '59m 59s',
      '1h 00m',
      '1h 02m',
      '3d 1h',
    ]);
    expect(formatWait(-5)).toBe('0s');
    expect(formatWaitLong(1)).toBe('1 second');
    expect(formatWaitLong(125)).toBe('2 minutes 5 seconds');
    expect(formatWaitLong(120)).toBe('2 minutes');
    expect(formatWaitLong(3660)).toBe('1 hour 1 minute');
  });

  it('names reasons, known or not', () => {
    expect(reasonLabel('asked_for_human')).toBe('Asked for a person');
    expect(reasonLabel('negative_sentiment')).toBe('Upset shopper');
    expect(reasonLabel('wants_discount')).toBe('Wants discount');
    expect(reasonLabel('')).toBe('Unknown reason');
    expect(humanize('track_order')).toBe('Track order');
  });

  it('reads the sentiment trend and draws it', () => {
    expect(sentimentTrend([0.1, -0.2, -0.6])).toBe('falling');
    expect(sentimentTrend([-0.8, -0.5, 0.2])).toBe('rising');
    expect(sentimentTrend([0.1, 0.0, 0.05])).toBe('steady');
    expect(sentimentTrend([0.3])).toBe('steady');
    expect(sentimentTrend([])).toBe('unknown');
    expect(sentimentText(-0.6, [0.1, -0.2, -0.6])).toBe('Sentiment very negative (−0.60), falling');
    expect(sentimentText(null, [])).toBe('Sentiment unknown');
    // +1 at the top, -1 at the bottom, evenly spaced.
    expect(sparklinePoints([1, 0, -1], 48, 16)).toBe('1.5,1.5 24,8 46.5,14.5');
    expect(sparklinePoints([5], 48, 16)).toBe('24,1.5');
    expect(sparklinePoints([], 48, 16)).toBe('');
  });

  it('formats money, falling back to the raw text', () => {
    expect(formatMoney('129.00', 'USD')).toBe('$129.00');
    expect(formatMoney('12', 'EUR', 'en-US')).toBe('€12.00');
    expect(formatMoney('n/a', 'USD')).toBe('n/a USD');
    expect(formatMoney('5.00', 'points')).toBe('5.00 points');
  });
});

describe('resolve tags', () => {
  it('splits on commas, trims, drops duplicates ignoring case', () => {
    expect(parseTags(' damaged,  late   delivery , Damaged,,')).toEqual({ tags: ['damaged', 'late delivery'], error: null });
    expect(parseTags('')).toEqual({ tags: [], error: null });
  });

  it('says what is wrong: too many, too long', () => {
    const many = Array.from({ length: 11 }, (_, i) => `t${i}`).join(',');
    expect(parseTags(many).error).toBe('At most 10 tags (you have 11).');
    expect(parseTags(`ok, ${'x'.repeat(41)}`).error).toMatch(/longer than 40 characters/);
    expect(parseTags('x'.repeat(40)).error).toBeNull();
  });
});

describe('shipping address', () => {
  it('is written as lines: city, region and postcode together; unknown fields kept', async () => {
    const { addressLines } = await import('../../src/console/ui/OrderPanel');
    expect(
      addressLines({ name: 'Jane Doe', line1: '1 Main St', city: 'Springfield', region: 'IL', postal_code: '62701', country: 'US', note: 'Leave at door', line2: ' ' }),
    ).toEqual(['Jane Doe', '1 Main St', 'Springfield, IL 62701', 'US', 'Leave at door']);
  });
});
