import { useEffect, useMemo, useState } from 'react';
import { errorMessage, type ConsoleApi } from '../api';
import {
  activeVersion,
  articlePathProblem,
  previewDraft,
  problemText,
  publishDraft,
  storeFiles,
  workspaceProblems,
  type Draft,
  type PreviewAnswer,
  type StoreFilesView,
  type StoreVersionInfo,
  type WorkspaceProblem,
} from '../storeApi';
import { rawValue, readNumber, readString, readText, setRaw, tomlString, writeText } from '../tomlEdit';

const PROFILE = 'store.toml';

/** The store's languages from store.toml's `languages = ["en", "es"]`. */
function languagesOf(toml: string): string[] {
  const raw = rawValue(toml, '', 'languages');
  const found = raw ? Array.from(raw.matchAll(/["']([A-Za-z0-9-]+)["']/g), (m) => m[1]) : [];
  return found.length ? found : ['en'];
}

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const isArticle = (p: string) => p.startsWith('knowledge/');

/** What the draft changes, as the API takes it (unchanged texts left out).
 * A version without articles of its own answers from the built-in ones
 * (`defaults`); the first article change copies those into the version, so
 * adding one article does not take the others away. */
export function draftChanges(base: Record<string, string>, draft: Draft, defaults: Record<string, string> = {}): Draft {
  const out: Draft = {};
  for (const [path, text] of Object.entries(draft)) {
    if (text === null) {
      if (path in base) out[path] = null;
    } else if (base[path] !== text) out[path] = text;
  }
  if (!Object.keys(base).some(isArticle) && Object.keys(out).some(isArticle)) {
    for (const [path, text] of Object.entries(defaults)) if (isArticle(path) && !(path in draft)) out[path] = text;
  }
  return out;
}

/** Supervisors only: edit knowledge articles and the store profile, preview
 * the bot's answer with the draft, and publish it as a new version. */
export function StoreEditor({ api }: { api: ConsoleApi }) {
  const [active, setActive] = useState<StoreVersionInfo | null>(null);
  const [view, setView] = useState<StoreFilesView | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft>({});
  const [selected, setSelected] = useState<string>(PROFILE);
  const [problems, setProblems] = useState<WorkspaceProblem[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [newPath, setNewPath] = useState('');
  const [newPathError, setNewPathError] = useState<string | null>(null);

  const load = async () => {
    try {
      const [a, f] = await Promise.all([activeVersion(api), storeFiles(api)]);
      setActive(a);
      setView(f);
      setLoadError(null);
    } catch (e) {
      setLoadError(errorMessage(e, 'load'));
    }
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api]);

  const base = view?.files ?? {};
  const textOf = (path: string): string | null => {
    if (path in draft) return draft[path];
    return base[path] ?? view?.defaults[path] ?? null;
  };
  const changes = useMemo(() => draftChanges(base, draft, view?.defaults), [base, draft, view]);
  const changed = Object.keys(changes);
  const profile = textOf(PROFILE) ?? '';
  const languages = languagesOf(profile);

  const articles = useMemo(() => {
    const all = new Set<string>();
    for (const p of Object.keys(base)) if (p.startsWith('knowledge/')) all.add(p);
    for (const p of Object.keys(view?.defaults ?? {})) if (p.startsWith('knowledge/')) all.add(p);
    for (const p of Object.keys(draft)) if (p.startsWith('knowledge/')) all.add(p);
    return Array.from(all).sort();
  }, [base, view, draft]);

  if (loadError) {
    return (
      <section className="wc-store" aria-labelledby="wc-store-title">
        <h2 id="wc-store-title" className="wc-panel-title">
          Store
        </h2>
        <div className="wc-error" role="alert">
          {loadError}
        </div>
        <button type="button" className="wc-btn" onClick={() => void load()}>
          Try again
        </button>
      </section>
    );
  }
  if (!view) {
    return (
      <section className="wc-store" aria-busy="true">
        <p className="wc-muted">Loading the store…</p>
      </section>
    );
  }

  const edit = (path: string, text: string | null) => {
    setDraft((d) => ({ ...d, [path]: text }));
    setNotice(null);
  };
  const problemsOf = (path: string) => problems.filter((p) => p.file === path);
  const listed = new Set([PROFILE, ...articles]);
  const otherProblems = problems.filter((p) => !listed.has(p.file));
  const selectedText = textOf(selected);

  const publish = async () => {
    if (busy || changed.length === 0) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const out = await publishDraft(api, changes, message);
      setProblems([]);
      setDraft({});
      setMessage('');
      setNotice(
        out.new
          ? `Published version ${out.version ?? '?'} (${out.changes.join(', ') || 'no changes'}).`
          : `Nothing changed: version ${out.version ?? '?'} already has this content.`,
      );
      await load();
    } catch (e) {
      const ps = workspaceProblems(e);
      setProblems(ps);
      setError(ps.length ? `Not published: ${ps.length} problem(s) in the draft. The live version keeps serving.` : errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="wc-store" aria-labelledby="wc-store-title" data-testid="store-editor">
      <header className="wc-store-head">
        <h2 id="wc-store-title" className="wc-panel-title">
          Store
        </h2>
        <p className="wc-muted" data-testid="store-version">
          {active
            ? `Live: version ${active.id} · ${active.hash.slice(0, 10)} · ${when(active.created_at)} · by ${active.created_by}${
                active.message ? ` · “${active.message}”` : ''
              }`
            : 'No version recorded yet.'}
        </p>
      </header>
      <div className="wc-store-grid">
        <nav className="wc-store-files" aria-label="Store files">
          <ul>
            <FileItem path={PROFILE} label="Store profile" selected={selected} changes={changes} live={PROFILE in base} problems={problemsOf(PROFILE)} onSelect={setSelected} />
          </ul>
          <h3 className="wc-store-sub">Knowledge articles</h3>
          {!Object.keys(base).some(isArticle) && articles.length > 0 && (
            <p className="wc-muted" data-testid="builtin-note">
              This version answers from the built-in articles; your first article change copies them into it.
            </p>
          )}
          <ul data-testid="article-list">
            {articles.map((p) => (
              <FileItem
                key={p}
                path={p}
                label={p.slice('knowledge/'.length)}
                selected={selected}
                changes={changes}
                live={p in base}
                builtin={!(p in base) && !(p in draft)}
                problems={problemsOf(p)}
                onSelect={setSelected}
              />
            ))}
          </ul>
          <form
            className="wc-store-add"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              const path = newPath.trim();
              const existing = articles.filter((p) => textOf(p) !== null);
              const bad = articlePathProblem(path, languages, existing);
              setNewPathError(bad);
              if (bad) return;
              edit(path, `# ${path.replace(/^.*\//, '').replace(/\.md$/, '').replace(/[-_]/g, ' ')}\n\n`);
              setSelected(path);
              setNewPath('');
            }}
          >
            <label htmlFor="wc-store-new">New article</label>
            <input
              id="wc-store-new"
              className="wc-input"
              data-testid="article-new-path"
              placeholder={`knowledge/${languages[0]}/gift-cards.md`}
              value={newPath}
              aria-invalid={newPathError ? true : undefined}
              aria-describedby={newPathError ? 'wc-store-new-error' : undefined}
              onChange={(e) => setNewPath(e.target.value)}
            />
            {newPathError && (
              <p id="wc-store-new-error" className="wc-field-error" data-testid="article-new-error">
                {newPathError}
              </p>
            )}
            <button type="submit" className="wc-btn wc-btn-small" data-testid="article-add">
              Add
            </button>
          </form>
        </nav>
        <div className="wc-store-edit">
          <FileProblems path={selected} problems={problemsOf(selected)} />
          {selected === PROFILE && <ProfileForm toml={profile} onChange={(t) => edit(PROFILE, t)} />}
          {selectedText === null ? (
            <p className="wc-muted" data-testid="file-deleted">
              {selected} will be deleted when you publish.{' '}
              <button type="button" className="wc-btn wc-btn-small" onClick={() => setDraft(({ [selected]: _, ...rest }) => rest)}>
                Undo
              </button>
            </p>
          ) : (
            <div className="wc-field">
              <label htmlFor="wc-store-text">{selected === PROFILE ? 'store.toml (all settings)' : selected}</label>
              <textarea
                id="wc-store-text"
                className="wc-input wc-store-text"
                data-testid="file-text"
                spellCheck={selected !== PROFILE}
                value={selectedText}
                onChange={(e) => edit(selected, e.target.value)}
              />
            </div>
          )}
          {selected !== PROFILE && selectedText !== null && (selected in base || selected in draft) && (
            <button
              type="button"
              className="wc-btn wc-btn-small"
              data-testid="article-delete"
              onClick={() => {
                if (selected in base) edit(selected, null);
                else {
                  setDraft(({ [selected]: _, ...rest }) => rest);
                  setSelected(PROFILE);
                }
              }}
            >
              Delete this article
            </button>
          )}
        </div>
        <div className="wc-store-side">
          <Preview api={api} changes={changes} languages={languages} />
          <section className="wc-store-publish" aria-labelledby="wc-store-publish-title">
            <h3 id="wc-store-publish-title" className="wc-store-sub">
              Publish
            </h3>
            <p className="wc-muted" data-testid="draft-summary">
              {changed.length ? `Changed: ${changed.map((p) => (changes[p] === null ? `-${p}` : p in base ? `~${p}` : `+${p}`)).join(', ')}` : 'No changes yet.'}
            </p>
            {otherProblems.length > 0 && <FileProblems path="" problems={otherProblems} />}
            <div className="wc-field">
              <label htmlFor="wc-store-message">What changed (for the version list)</label>
              <input id="wc-store-message" className="wc-input" data-testid="publish-message" maxLength={500} value={message} onChange={(e) => setMessage(e.target.value)} />
            </div>
            <button type="button" className="wc-btn wc-btn-primary" data-testid="publish" disabled={busy || changed.length === 0} onClick={() => void publish()}>
              {busy ? 'Publishing…' : 'Publish'}
            </button>{' '}
            <button
              type="button"
              className="wc-btn"
              disabled={busy || Object.keys(draft).length === 0}
              onClick={() => {
                setDraft({});
                setProblems([]);
                setError(null);
              }}
            >
              Discard the draft
            </button>
            {error && (
              <div className="wc-error" role="alert" data-testid="publish-error">
                {error}
              </div>
            )}
            {notice && (
              <p className="wc-notice" role="status" data-testid="publish-notice">
                {notice}
              </p>
            )}
          </section>
        </div>
      </div>
    </section>
  );
}

function FileItem(props: {
  path: string;
  label: string;
  selected: string;
  changes: Draft;
  live: boolean;
  builtin?: boolean;
  problems: WorkspaceProblem[];
  onSelect: (p: string) => void;
}) {
  const { path, label, selected, changes, live, builtin, problems, onSelect } = props;
  const mark = path in changes ? (changes[path] === null ? 'deleted' : live ? 'changed' : 'new') : builtin ? 'built-in' : '';
  const errs = problems.filter((p) => p.severity === 'error').length;
  return (
    <li>
      <button
        type="button"
        className={`wc-store-file${selected === path ? ' wc-store-file-on' : ''}`}
        aria-current={selected === path ? 'true' : undefined}
        data-testid="store-file"
        data-path={path}
        onClick={() => onSelect(path)}
      >
        <span>{label}</span>
        {mark && <span className="wc-store-mark"> · {mark}</span>}
        {errs > 0 && <span className="wc-store-bad"> · {errs} error{errs > 1 ? 's' : ''}</span>}
      </button>
    </li>
  );
}

function FileProblems({ path, problems }: { path: string; problems: WorkspaceProblem[] }) {
  if (!problems.length) return null;
  return (
    <ul className="wc-store-problems" data-testid="file-problems" data-path={path}>
      {problems.map((p, i) => (
        <li key={i} className={p.severity === 'error' ? 'wc-store-bad' : 'wc-muted'}>
          {problemText(p)}
        </li>
      ))}
    </ul>
  );
}

/** The commonly edited store.toml values; each change writes the key back into the text. */
function ProfileForm({ toml, onChange }: { toml: string; onChange: (t: string) => void }) {
  const num = (section: string, key: string, label: string, id: string) => {
    const v = readNumber(toml, section, key);
    const text = v === null ? '' : Number.isNaN(v) ? (rawValue(toml, section, key) ?? '') : String(v);
    return (
      <NumberField
        key={`${section}.${key}`}
        id={id}
        label={label}
        value={text}
        onChange={(s) => onChange(setRaw(toml, section, key, s.trim() === '' ? null : s.trim()))}
      />
    );
  };
  const txt = (section: string, key: string, label: string, id: string) => {
    const v = readText(toml, section, key);
    if (v === null) return <p className="wc-muted" key={id}>{label}: edit it in store.toml below.</p>;
    const langs = Object.keys(v).length ? Object.keys(v) : [''];
    return (
      <div key={id}>
        {langs.map((lang) => (
          <div className="wc-field" key={lang}>
            <label htmlFor={`${id}-${lang || 'all'}`}>
              {label}
              {lang ? ` (${lang})` : ''}
            </label>
            <input
              id={`${id}-${lang || 'all'}`}
              className="wc-input"
              data-testid={`${id}${lang ? `-${lang}` : ''}`}
              value={v[lang] ?? ''}
              onChange={(e) => onChange(writeText(toml, section, key, { ...v, [lang]: e.target.value }))}
            />
          </div>
        ))}
      </div>
    );
  };
  const colour = readString(toml, 'widget.colours', 'primary') ?? '';
  const colourBad = colour !== '' && !/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(colour);
  return (
    <fieldset className="wc-store-profile" data-testid="profile-form">
      <legend>Store profile</legend>
      {num('policy', 'return_window_days', 'Return window (days after delivery)', 'profile-return-days')}
      {num('policy', 'late_after_days', 'Late after (days past the promised date)', 'profile-late-days')}
      {num('policy', 'free_shipping_threshold', 'Free shipping from (order total)', 'profile-free-shipping')}
      {txt('contact', 'email', 'Contact e-mail', 'profile-email')}
      {txt('contact', 'phone', 'Contact phone', 'profile-phone')}
      {txt('contact', 'hours', 'Opening hours', 'profile-hours')}
      {txt('widget', 'title', 'Widget title', 'profile-title')}
      {txt('widget', 'greeting', 'Greeting', 'profile-greeting')}
      <div className="wc-field">
        <label htmlFor="profile-colour">Primary colour</label>
        <input
          id="profile-colour"
          className="wc-input"
          data-testid="profile-colour"
          value={colour}
          placeholder="#1f6feb"
          aria-invalid={colourBad ? true : undefined}
          aria-describedby={colourBad ? 'profile-colour-error' : undefined}
          onChange={(e) => onChange(setRaw(toml, 'widget.colours', 'primary', e.target.value.trim() ? tomlString(e.target.value.trim()) : null))}
        />
        {colourBad && (
          <p id="profile-colour-error" className="wc-field-error">
            A colour is #rgb or #rrggbb.
          </p>
        )}
      </div>
    </fieldset>
  );
}

function NumberField({ id, label, value, onChange }: { id: string; label: string; value: string; onChange: (s: string) => void }) {
  const bad = value.trim() !== '' && !/^\d+(\.\d+)?$/.test(value.trim());
  return (
    <div className="wc-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        className="wc-input"
        inputMode="decimal"
        data-testid={id}
        value={value}
        aria-invalid={bad ? true : undefined}
        aria-describedby={bad ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {bad && (
        <p id={`${id}-error`} className="wc-field-error">
          A number of 0 or more.
        </p>
      )}
    </div>
  );
}

function Preview({ api, changes, languages }: { api: ConsoleApi; changes: Draft; languages: string[] }) {
  const [question, setQuestion] = useState('');
  const [locale, setLocale] = useState(languages[0] ?? 'en');
  const [answer, setAnswer] = useState<PreviewAnswer | null>(null);
  const [problems, setProblems] = useState<WorkspaceProblem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section className="wc-store-preview" aria-labelledby="wc-store-preview-title">
      <h3 id="wc-store-preview-title" className="wc-store-sub">
        Preview with the draft
      </h3>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy || !question.trim()) return;
          setBusy(true);
          setError(null);
          setProblems([]);
          try {
            setAnswer(await previewDraft(api, changes, question.trim(), locale));
          } catch (err) {
            setAnswer(null);
            const ps = workspaceProblems(err);
            setProblems(ps);
            setError(ps.length ? 'The draft does not load:' : errorMessage(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="wc-field">
          <label htmlFor="wc-preview-q">A shopper asks</label>
          <input id="wc-preview-q" className="wc-input" data-testid="preview-question" value={question} onChange={(e) => setQuestion(e.target.value)} />
        </div>
        <div className="wc-field">
          <label htmlFor="wc-preview-lang">Language</label>
          <select id="wc-preview-lang" className="wc-select" data-testid="preview-locale" value={locale} onChange={(e) => setLocale(e.target.value)}>
            {languages.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="wc-btn" data-testid="preview" disabled={busy || !question.trim()}>
          {busy ? 'Asking…' : 'Preview the answer'}
        </button>
      </form>
      <div aria-live="polite">
        {error && (
          <div className="wc-error" role="alert" data-testid="preview-error">
            {error}
            {problems.length > 0 && (
              <ul>
                {problems.map((p, i) => (
                  <li key={i}>{problemText(p)}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        {answer && (
          <div className="wc-store-answer" data-testid="preview-answer">
            {answer.messages.map((m, i) => (
              <p key={i} className="wc-msg wc-msg-bot">
                {m.text}
              </p>
            ))}
            {answer.intent && (
              <p className="wc-muted">
                Understood as {answer.intent.name} ({Math.round(answer.intent.confidence * 100)}%)
              </p>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
