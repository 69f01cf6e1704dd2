import { sentimentText, sentimentTrend, sparklinePoints, TREND_ARROW } from '../format';
import type { Sentiment as S } from '../types';

const W = 48;
const H = 16;

/** A tiny sparkline of the shopper's mood (drawn, hidden from screen
 * readers) with an arrow, and the same in words for screen readers. */
export function Sentiment({ sentiment }: { sentiment: S }) {
  const { trend, last } = sentiment;
  const dir = sentimentTrend(trend);
  const mood = last === null ? 'unknown' : last <= -0.15 ? 'negative' : last >= 0.15 ? 'positive' : 'neutral';
  return (
    <span className={`wc-sentiment wc-mood-${mood} wc-trend-${dir}`} title={sentimentText(last, trend)}>
      {trend.length > 1 && (
        <svg className="wc-spark" width={W} height={H} viewBox={`0 0 ${W} ${H}`} aria-hidden="true" focusable="false">
          <line x1="0" x2={W} y1={H / 2} y2={H / 2} className="wc-spark-zero" />
          <polyline points={sparklinePoints(trend, W, H)} className="wc-spark-line" />
        </svg>
      )}
      <span className="wc-arrow" aria-hidden="true">
        {TREND_ARROW[dir]}
      </span>
      <span className="wc-sr">{sentimentText(last, trend)}</span>
    </span>
  );
}
