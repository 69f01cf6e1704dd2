// How cases are ordered and shown in the queue: pure functions, tested
// without a browser.

import type { Case, PriorityLabel } from './types';

const PRIORITY_RANK: Record<PriorityLabel, number> = { high: 2, normal: 1, low: 0 };

/** Highest priority first; then who has waited longest; then the case number. */
export function sortQueue(cases: readonly Case[]): Case[] {
  return [...cases].sort(
    (a, b) =>
      b.priority - a.priority ||
      PRIORITY_RANK[b.priority_label] - PRIORITY_RANK[a.priority_label] ||
      b.waiting_seconds - a.waiting_seconds ||
      caseNumber(a.case_id) - caseNumber(b.case_id) ||
      a.case_id.localeCompare(b.case_id),
  );
}

function caseNumber(id: string): number {
  const m = /(\d+)$/.exec(id);
  return m ? Number(m[1]) : 0;
}

/** A case's wait now: what the server said, plus the time since it said it. */
export function liveWaitSeconds(c: Case, receivedAt: number, now: number): number {
  const extra = c.status === 'queued' ? Math.max(0, Math.floor((now - receivedAt) / 1000)) : 0;
  return c.waiting_seconds + extra;
}

/** `45s`, `3m 05s`, `1h 02m`: short, for a ticking display. */
export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  if (h >= 48) return `${Math.floor(h / 24)}d ${h % 24}h`;
  return `${h}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The same in words, for screen readers: "3 minutes 5 seconds". */
export function formatWaitLong(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (s < 60) return part(s, 'second');
  if (s < 3600) {
    const sec = s % 60;
    return sec ? `${part(Math.floor(s / 60), 'minute')} ${part(sec, 'second')}` : part(s / 60, 'minute');
  }
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return m ? `${part(h, 'hour')} ${part(m, 'minute')}` : part(h, 'hour');
}

const REASONS: Record<string, string> = {
  asked_for_human: 'Asked for a person',
  negative_sentiment: 'Upset shopper',
  not_understood: "Bot didn't understand",
  bot_error: 'Bot error',
  order_problem: 'Order problem',
  policy_exception: 'Policy exception',
  repeated_question: 'Repeated question',
};

/** `snake_case` → "Snake case". */
export function humanize(value: string | null | undefined): string {
  const w = (value ?? '').replace(/[_-]+/g, ' ').trim();
  return w ? w.charAt(0).toUpperCase() + w.slice(1) : '';
}

export function reasonLabel(reason: string | null | undefined): string {
  return (reason && REASONS[reason]) || humanize(reason) || 'Unknown reason';
}

export function priorityText(label: PriorityLabel): string {
  return label === 'high' ? 'High priority' : label === 'low' ? 'Low priority' : 'Normal priority';
}

export type Trend = 'rising' | 'falling' | 'steady' | 'unknown';

/** Where the shopper's mood is going: the newest score against the mean of
 * the earlier ones (a change under 0.15 is steady). */
export function sentimentTrend(trend: readonly number[]): Trend {
  if (trend.length < 2) return trend.length ? 'steady' : 'unknown';
  const last = trend[trend.length - 1];
  const before = trend.slice(0, -1);
  const mean = before.reduce((a, b) => a + b, 0) / before.length;
  const d = last - mean;
  return d >= 0.15 ? 'rising' : d <= -0.15 ? 'falling' : 'steady';
}

export function moodLabel(score: number | null): string {
  if (score === null) return 'unknown';
  return score <= -0.5 ? 'very negative' : score < -0.15 ? 'negative' : score <= 0.15 ? 'neutral' : 'positive';
}

export const TREND_ARROW: Record<Trend, string> = { rising: '↗', falling: '↘', steady: '→', unknown: '·' };

/** An accessible summary of the sentiment: "Sentiment negative (−0.60), falling". */
export function sentimentText(last: number | null, trend: readonly number[]): string {
  const t = sentimentTrend(trend);
  const value = last === null ? '' : ` (${last.toFixed(2).replace('-', '−')})`;
  return `Sentiment ${moodLabel(last)}${value}${t === 'unknown' ? '' : `, ${t}`}`;
}

/** SVG polyline points for scores in [-1, 1] drawn in a width × height box
 * (+1 at the top). */
export function sparklinePoints(values: readonly number[], width: number, height: number): string {
  if (values.length === 0) return '';
  const pad = 1.5;
  const h = height - 2 * pad;
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const c = Math.max(-1, Math.min(1, v));
      const x = values.length > 1 ? pad + i * step : width / 2;
      const y = pad + ((1 - c) / 2) * h;
      return `${round(x)},${round(y)}`;
    })
    .join(' ');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** "129.00 USD" as the locale writes money, falling back to the raw text. */
export function formatMoney(total: string, currency: string, locale?: string): string {
  const n = Number(total);
  if (total.trim() === '' || !Number.isFinite(n)) return [total, currency].filter(Boolean).join(' ');
  if (/^[A-Z]{3}$/.test(currency)) {
    try {
      return new Intl.NumberFormat(locale ?? 'en-US', { style: 'currency', currency }).format(n);
    } catch {
      /* unknown currency code */
    }
  }
  return [total, currency].filter(Boolean).join(' ');
}

export const OUTCOME_LABELS: Record<string, string> = {
  resolved: 'Resolved',
  refunded: 'Refunded',
  replaced: 'Replaced',
  reshipped: 'Reshipped',
  cancelled: 'Cancelled',
  no_action: 'No action needed',
  other: 'Other',
};

export const MAX_TAGS = 10;
export const MAX_TAG_CHARS = 40;

/** Tags typed as "damaged, late delivery": trimmed, no duplicates (ignoring
 * case), in order; with the first problem, if any. */
export function parseTags(input: string): { tags: string[]; error: string | null } {
  const tags: string[] = [];
  const seen = new Set<string>();
  let error: string | null = null;
  for (const raw of input.split(/[,\n]/)) {
    const t = raw.trim().replace(/\s+/g, ' ');
    if (!t) continue;
    const key = t.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    if (t.length > MAX_TAG_CHARS && !error) error = `Tag "${t.slice(0, 20)}…" is longer than ${MAX_TAG_CHARS} characters.`;
    tags.push(t);
  }
  if (tags.length > MAX_TAGS && !error) error = `At most ${MAX_TAGS} tags (you have ${tags.length}).`;
  return { tags, error };
}
