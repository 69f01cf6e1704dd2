import { useState } from 'react';
import { validateCanned } from '../canned';
import type { ConsoleController } from '../controller';
import type { CannedReply } from '../types';

/** The canned replies: listed with their shortcuts; add and delete. */
export function CannedManager({ controller, replies }: { controller: ConsoleController; replies: CannedReply[] }) {
  const [shortcut, setShortcut] = useState('');
  const [title, setTitle] = useState('');
  const [text, setText] = useState('');
  const [errors, setErrors] = useState<Partial<Record<'shortcut' | 'title' | 'text', string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  return (
    <section className="wc-panel" aria-labelledby="wc-canned-title">
      <h2 id="wc-canned-title" className="wc-panel-title">
        Canned replies
      </h2>
      {replies.length === 0 ? (
        <p className="wc-empty">None yet.</p>
      ) : (
        <ul className="wc-canned" data-testid="canned-list">
          {replies.map((r) => (
            <li key={r.id} className="wc-canned-item">
              <div>
                <code>{r.shortcut}</code> <strong>{r.title}</strong>
                <div className="wc-canned-text">{r.text}</div>
              </div>
              <button
                type="button"
                className="wc-btn wc-btn-small"
                aria-label={`Delete canned reply ${r.shortcut}`}
                onClick={async () => setError(await controller.deleteCanned(r.id))}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <details className="wc-canned-add">
        <summary>Add a canned reply</summary>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (busy) return;
            const v = validateCanned({ shortcut, title, text }, replies);
            setErrors(v.errors);
            setError(null);
            if (!v.reply) {
              const firstBad = (['shortcut', 'title', 'text'] as const).find((k) => v.errors[k]);
              if (firstBad) document.getElementById(`wc-canned-${firstBad}`)?.focus();
              return;
            }
            setBusy(true);
            const err = await controller.addCanned(v.reply);
            setBusy(false);
            if (err) setError(err);
            else {
              setShortcut('');
              setTitle('');
              setText('');
            }
          }}
        >
          {(
            [
              ['shortcut', 'Shortcut', shortcut, setShortcut, '/thanks'],
              ['title', 'Title', title, setTitle, 'Thanks'],
            ] as const
          ).map(([key, label, value, set, ph]) => (
            <div className="wc-field" key={key}>
              <label htmlFor={`wc-canned-${key}`}>{label}</label>
              <input
                id={`wc-canned-${key}`}
                className="wc-text"
                value={value}
                placeholder={ph}
                aria-invalid={errors[key] ? true : undefined}
                aria-describedby={errors[key] ? `wc-canned-${key}-error` : undefined}
                onChange={(e) => set(e.target.value)}
              />
              {errors[key] && (
                <p id={`wc-canned-${key}-error`} className="wc-field-error">
                  {errors[key]}
                </p>
              )}
            </div>
          ))}
          <div className="wc-field">
            <label htmlFor="wc-canned-text">Text</label>
            <textarea
              id="wc-canned-text"
              className="wc-text"
              rows={3}
              value={text}
              aria-invalid={errors.text ? true : undefined}
              aria-describedby={errors.text ? 'wc-canned-text-error' : undefined}
              onChange={(e) => setText(e.target.value)}
            />
            {errors.text && (
              <p id="wc-canned-text-error" className="wc-field-error">
                {errors.text}
              </p>
            )}
          </div>
          <button type="submit" className="wc-btn wc-btn-primary" aria-disabled={busy || undefined}>
            {busy ? 'Adding…' : 'Add reply'}
          </button>
        </form>
      </details>
      {error && (
        <div className="wc-error" role="alert">
          {error}
        </div>
      )}
    </section>
  );
}
