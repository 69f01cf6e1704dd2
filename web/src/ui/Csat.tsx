import { useEffect, useRef, useState } from 'react';
import type { CsatResult } from '../client';
import type { Strings } from '../i18n';
import type { CsatState } from '../types';

export const CSAT_COMMENT_MAX = 1000;

/** "How did we do?" after a person resolved the case: a score from 1 to 5 (a
 * group of native radio buttons, so arrow keys and screen readers work as
 * usual), an optional comment, then a thank-you. */
export function Csat({
  t,
  state,
  onSubmit,
}: {
  t: Strings;
  state: CsatState;
  onSubmit: (score: number, comment: string) => Promise<CsatResult>;
}) {
  const [score, setScore] = useState<number | null>(null);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const thanks = useRef<HTMLDivElement>(null);
  const hadForm = useRef(state === null);

  // The form goes away once answered: the focus goes to the thank-you.
  useEffect(() => {
    if (state === 'thanked' && hadForm.current) thanks.current?.focus();
  }, [state]);

  if (state === 'thanked') {
    return (
      <div ref={thanks} className="wismo-csat wismo-csat-done" role="status" tabIndex={-1} data-testid="csat-thanks">
        {t.csatThanks}
      </div>
    );
  }
  if (state !== null) return null;

  return (
    <form
      className="wismo-csat"
      data-testid="csat"
      onSubmit={(e) => {
        e.preventDefault();
        if (busy) return;
        if (score === null) {
          setError(t.csatPick);
          return;
        }
        setBusy(true);
        setError(null);
        void onSubmit(score, comment).then((r) => {
          setBusy(false);
          if (r === 'error') setError(t.csatError);
          else if (r === 'invalid') setError(t.csatPick);
        });
      }}
    >
      <fieldset className="wismo-csat-set">
        <legend className="wismo-csat-q">{t.csatQuestion}</legend>
        <div className="wismo-csat-scale">
          {t.csatScores.map((word, i) => {
            const n = i + 1;
            return (
              <label key={n} className="wismo-csat-opt" title={word}>
                <input
                  type="radio"
                  className="wismo-csat-radio"
                  name="wismo-csat"
                  value={n}
                  checked={score === n}
                  aria-label={t.csatScoreLabel(n, word)}
                  data-testid={`csat-score-${n}`}
                  onChange={() => {
                    setScore(n);
                    setError(null);
                  }}
                />
                <span className="wismo-csat-num" aria-hidden="true">
                  {n}
                </span>
              </label>
            );
          })}
        </div>
        <div className="wismo-csat-ends" aria-hidden="true">
          <span>{t.csatScores[0]}</span>
          <span>{t.csatScores[4]}</span>
        </div>
      </fieldset>
      <label className="wismo-csat-label">
        {t.csatComment}
        <textarea
          className="wismo-csat-comment"
          rows={2}
          maxLength={CSAT_COMMENT_MAX}
          value={comment}
          onChange={(e) => setComment(e.target.value)}
        />
      </label>
      {error && (
        <div className="wismo-csat-error" role="alert">
          {error}
        </div>
      )}
      <button type="submit" className="wismo-csat-submit" disabled={busy} data-testid="csat-submit">
        {busy ? t.sending : t.csatSubmit}
      </button>
    </form>
  );
}
