// Reading and writing a few keys of store.toml in place, line by line, so
// the supervisor's comments and layout stay. Handles `key = value` lines in
// `[section]` tables, numbers, strings and one-line inline tables of strings
// (`{ en = "…", es = "…" }`, per-language texts). Anything else is left to
// the text editor.

const SECTION = /^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$/;

function keyLine(key: string, commented: boolean): RegExp {
  const k = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^(\\s*)${commented ? '#\\s*' : ''}${k}\\s*=\\s*(.*)$`);
}

/** Where `key` of `section` ('' for the top) is: the line index, and whether it is commented out. */
function find(lines: string[], section: string, key: string): { at: number; commented: boolean; end: number; header: number } {
  let current = '';
  let at = -1;
  let commentedAt = -1;
  let header = section === '' ? -1 : -2;
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const s = SECTION.exec(lines[i]);
    if (s) {
      if (current === section && header !== -2) {
        end = i;
        break;
      }
      current = s[1];
      if (current === section) header = i;
      continue;
    }
    if (current !== section) continue;
    if (at < 0 && keyLine(key, false).test(lines[i])) at = i;
    else if (commentedAt < 0 && keyLine(key, true).test(lines[i])) commentedAt = i;
  }
  if (section === '' && header === -1) {
    const first = lines.findIndex((l) => SECTION.test(l));
    end = first < 0 ? lines.length : first;
  }
  return at >= 0 ? { at, commented: false, end, header } : { at: commentedAt, commented: commentedAt >= 0, end, header };
}

/** Splits a value from a trailing comment (outside strings). */
function stripComment(v: string): string {
  let quote: string | null = null;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return v.slice(0, i).trim();
  }
  return v.trim();
}

/** The raw value of `section.key` (null when absent or commented out). */
export function rawValue(text: string, section: string, key: string): string | null {
  const lines = text.split('\n');
  const f = find(lines, section, key);
  if (f.at < 0 || f.commented) return null;
  const m = keyLine(key, false).exec(lines[f.at]);
  return m ? stripComment(m[2]) : null;
}

function parseString(raw: string): string | null {
  if (raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2) return raw.slice(1, -1);
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) {
    try {
      const v: unknown = JSON.parse(raw);
      return typeof v === 'string' ? v : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** A TOML basic string (JSON's escapes are TOML's). */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** A text that is one string or one per language: {'': text} or {en: …, es: …}; null when it is neither. */
export function readText(text: string, section: string, key: string): Record<string, string> | null {
  const raw = rawValue(text, section, key);
  if (raw === null) return {};
  const one = parseString(raw);
  if (one !== null) return { '': one };
  if (!raw.startsWith('{') || !raw.endsWith('}')) return null;
  const out: Record<string, string> = {};
  const body = raw.slice(1, -1).trim();
  if (!body) return out;
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*')\s*(,|$)/y;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) return null;
    const v = parseString(m[2]);
    if (v === null) return null;
    out[m[1]] = v;
    pos = re.lastIndex;
  }
  return out;
}

export function writeText(text: string, section: string, key: string, value: Record<string, string>): string {
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '') return setRaw(text, section, key, value[''] === '' ? null : tomlString(value['']));
  const parts = keys.filter((k) => k !== '' && value[k] !== '').map((k) => `${k} = ${tomlString(value[k])}`);
  return setRaw(text, section, key, parts.length ? `{ ${parts.join(', ')} }` : null);
}

/** A number value, or null when absent (NaN when it is not a plain number). */
export function readNumber(text: string, section: string, key: string): number | null {
  const raw = rawValue(text, section, key);
  if (raw === null) return null;
  return /^[+-]?\d+(\.\d+)?$/.test(raw.replace(/_/g, '')) ? Number(raw.replace(/_/g, '')) : NaN;
}

export function readString(text: string, section: string, key: string): string | null {
  const raw = rawValue(text, section, key);
  return raw === null ? null : parseString(raw);
}

/** Sets `section.key` to the raw TOML `value` (null comments the key out, or
 * leaves it absent). Replaces the line in place, else uncomments a commented
 * one, else adds the line at the end of the section (adding the section). */
export function setRaw(text: string, section: string, key: string, value: string | null): string {
  const lines = text.split('\n');
  const f = find(lines, section, key);
  if (value === null) {
    if (f.at >= 0 && !f.commented) {
      const m = keyLine(key, false).exec(lines[f.at])!;
      lines[f.at] = `${m[1]}# ${key} = ${m[2]}`;
    }
    return lines.join('\n');
  }
  if (f.at >= 0) {
    const indent = /^(\s*)/.exec(lines[f.at])![1];
    const old = keyLine(key, f.commented).exec(lines[f.at])![2];
    const tail = f.commented ? '' : old.slice(stripComment(old).length).match(/\s*#.*$/)?.[0] ?? '';
    lines[f.at] = `${indent}${key} = ${value}${tail}`;
    return lines.join('\n');
  }
  const line = `${key} = ${value}`;
  if (section !== '' && f.header === -2) {
    const trimmed = text.replace(/\n*$/, '');
    return `${trimmed}\n\n[${section}]\n${line}\n`;
  }
  // After the section's last non-blank line.
  let at = f.end;
  while (at > f.header + 1 && lines[at - 1].trim() === '') at--;
  lines.splice(at, 0, line);
  return lines.join('\n');
}
