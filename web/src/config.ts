// What the embedding page asks for, read from the widget's <script> tag:
//   <script src="https://shop.example/widget.js" data-wismo-locale="es"
//           data-wismo-position="left" data-wismo-color="#0a7d5a"
//           data-wismo-server="https://chat.shop.example" defer></script>
// A store that signs its customers in adds data-wismo-customer-token="<JWT>"
// (or calls window.wismo.identify(token) later).

import { normalizeLocale } from './i18n';
import type { Locale } from './types';

export interface WidgetConfig {
  /** Where the API is: the script's own origin unless data-wismo-server says. */
  baseUrl: string;
  locale: Locale;
  position: 'left' | 'right';
  /** The accent colour, a validated #hex, or null for the default. */
  color: string | null;
  /** A signed-in shopper's customer token (data-wismo-customer-token), or null. */
  customerToken: string | null;
  /** The panel's title from the store (`GET /v1/widget/config`), or null for the default. */
  title?: string | null;
  /** Which settings the script tag set itself (the server's look never overrides them). */
  explicit?: { position: boolean; color: boolean };
}

/**
 * The store's look from `GET /v1/widget/config` (title, colours, position),
 * applied under the script tag's own attributes: an attribute always wins.
 * Anything malformed in `look` is ignored.
 */
export function applyServerLook(config: WidgetConfig, look: unknown): WidgetConfig {
  if (!look || typeof look !== 'object') return config;
  const l = look as {
    title?: unknown;
    position?: unknown;
    colours?: { primary?: unknown } | null;
    languages?: unknown;
  };
  const explicit = config.explicit ?? { position: false, color: false };
  // The title is in the store's first language: other languages keep theirs.
  const first = Array.isArray(l.languages) && typeof l.languages[0] === 'string' ? l.languages[0] : null;
  const sameLanguage = !first || first.toLowerCase().split('-')[0] === config.locale;
  const title =
    sameLanguage && typeof l.title === 'string' && l.title.trim() ? l.title.trim().slice(0, 80) : null;
  const primary = typeof l.colours?.primary === 'string' ? safeColor(l.colours.primary) : null;
  const position =
    l.position === 'bottom-left' ? 'left' : l.position === 'bottom-right' ? 'right' : null;
  return {
    ...config,
    title: title ?? config.title ?? null,
    color: explicit.color ? config.color : (primary ?? config.color),
    position: explicit.position || !position ? config.position : position,
  };
}

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

export function safeColor(value: string | null | undefined): string | null {
  const v = value?.trim() ?? '';
  return HEX.test(v) ? v : null;
}

/** Black or white, whichever reads better on the accent colour. */
export function textOn(hex: string): string {
  let h = hex.slice(1);
  if (h.length <= 4) h = h.split('').map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(h.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast against white vs against near-black (#111).
  return (1.05 / (lum + 0.05)) >= ((lum + 0.05) / 0.0555) ? '#ffffff' : '#111111';
}

/** An http(s) URL's origin-and-path without a trailing slash, or null. */
export function httpBase(value: string | null | undefined, relativeTo?: string): string | null {
  if (!value) return null;
  try {
    const u = new URL(value.trim(), relativeTo);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return null;
  }
}

function originOf(value: string | null | undefined, relativeTo?: string): string | null {
  if (!value) return null;
  try {
    const u = new URL(value, relativeTo);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

export function readConfig(
  script: Element | null,
  page: { href: string; lang?: string | null; languages?: readonly string[] },
): WidgetConfig {
  const attr = (name: string) => script?.getAttribute(name) ?? null;
  const baseUrl =
    httpBase(attr('data-wismo-server'), page.href) ??
    originOf(attr('src'), page.href) ??
    originOf(page.href) ??
    '';
  let locale = normalizeLocale(attr('data-wismo-locale')) ?? normalizeLocale(page.lang);
  for (const l of page.languages ?? []) {
    if (locale) break;
    locale = normalizeLocale(l);
  }
  return {
    baseUrl,
    locale: locale ?? 'en',
    position: attr('data-wismo-position')?.trim().toLowerCase() === 'left' ? 'left' : 'right',
    color: safeColor(attr('data-wismo-color')),
    customerToken: attr('data-wismo-customer-token')?.trim() || null,
    title: null,
    explicit: {
      position: attr('data-wismo-position') !== null,
      color: safeColor(attr('data-wismo-color')) !== null,
    },
  };
}
