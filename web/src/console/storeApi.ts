// The store workspace API for supervisors (GET /v1/admin/store, /files;
// POST /v1/admin/store/preview, /publish), over the console's fetch helper
// (the session cookie, JSON, same origin). Agents get 403.

import { ApiError, type ConsoleApi } from './api';

export interface StoreVersionInfo {
  id: number;
  hash: string;
  created_at: string;
  created_by: string;
  created_by_kind: string;
  message: string | null;
  changes: string[];
}

export interface StoreFilesView {
  version: number | null;
  hash: string;
  files: Record<string, string>;
  defaults: Record<string, string>;
}

/** One problem of a refused workspace (`file:line: message`). */
export interface WorkspaceProblem {
  file: string;
  line: number;
  message: string;
  severity: 'error' | 'warning';
}

export interface PreviewAnswer {
  messages: { text: string; quick_replies: string[] }[];
  intent: { name: string; confidence: number } | null;
  warnings: string[];
}

export interface PublishOutcome {
  version: number | null;
  new: boolean;
  changes: string[];
  warnings: string[];
}

/** Files to add or replace (text) or remove (null) on top of the active version. */
export type Draft = Record<string, string | null>;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const texts = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(obj(v))) if (typeof t === 'string') out[k] = t;
  return out;
};

export function normalizeVersion(v: unknown): StoreVersionInfo | null {
  const o = obj(v);
  if (typeof o.id !== 'number' || typeof o.hash !== 'string') return null;
  return {
    id: o.id,
    hash: o.hash,
    created_at: str(o.created_at) ?? '',
    created_by: str(o.created_by) ?? '',
    created_by_kind: str(o.created_by_kind) ?? '',
    message: str(o.message),
    changes: strs(o.changes),
  };
}

/** The problems of a 422 `workspace_invalid` (empty for any other error). */
export function workspaceProblems(err: unknown): WorkspaceProblem[] {
  if (!(err instanceof ApiError) || !err.problem || !Array.isArray(err.problem.errors)) return [];
  const out: WorkspaceProblem[] = [];
  for (const e of err.problem.errors) {
    const o = obj(e);
    const file = str(o.file);
    const message = str(o.message);
    if (file === null || message === null) continue;
    out.push({
      file,
      line: typeof o.line === 'number' ? o.line : 0,
      message,
      severity: o.severity === 'warning' ? 'warning' : 'error',
    });
  }
  return out;
}

export function problemText(p: WorkspaceProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

export async function activeVersion(api: ConsoleApi): Promise<StoreVersionInfo | null> {
  return normalizeVersion(obj(await api.request('GET', '/v1/admin/store')).active);
}

export async function storeFiles(api: ConsoleApi): Promise<StoreFilesView> {
  const o = obj(await api.request('GET', '/v1/admin/store/files'));
  return {
    version: typeof o.version === 'number' ? o.version : null,
    hash: str(o.hash) ?? '',
    files: texts(o.files),
    defaults: texts(o.defaults),
  };
}

export async function previewDraft(api: ConsoleApi, files: Draft, question: string, locale: string): Promise<PreviewAnswer> {
  const o = obj(await api.request('POST', '/v1/admin/store/preview', { files, question, locale }));
  const intent = obj(o.intent);
  return {
    messages: (Array.isArray(o.messages) ? o.messages : [])
      .map(obj)
      .filter((m) => typeof m.text === 'string')
      .map((m) => ({ text: m.text as string, quick_replies: strs(m.quick_replies) })),
    intent: typeof intent.name === 'string' ? { name: intent.name, confidence: typeof intent.confidence === 'number' ? intent.confidence : 0 } : null,
    warnings: strs(o.warnings),
  };
}

export async function publishDraft(api: ConsoleApi, files: Draft, message: string): Promise<PublishOutcome> {
  const o = obj(await api.request('POST', '/v1/admin/store/publish', { files, message: message.trim() || null }));
  return {
    version: typeof o.version === 'number' ? o.version : null,
    new: o.new !== false,
    changes: strs(o.changes),
    warnings: strs(o.warnings),
  };
}

/** A new article's path: knowledge/<language>/<name>.md (lower-case letters,
 * digits, `-` and `_`). Null when it is good, else what is wrong. */
export function articlePathProblem(path: string, languages: string[], existing: Iterable<string>): string | null {
  const m = /^knowledge\/([a-z]{2,3}(?:-[A-Za-z]{2,4})?)\/([a-z0-9][a-z0-9_-]*)\.md$/.exec(path);
  if (!m) return 'Use knowledge/<language>/<name>.md, e.g. knowledge/en/gift-cards.md (lower-case letters, digits, - and _).';
  if (languages.length && !languages.includes(m[1])) return `The store speaks ${languages.join(', ')}; "${m[1]}" is not one of them.`;
  for (const p of existing) if (p === path) return 'An article with that name already exists.';
  return null;
}
