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
  /** The panel's title per language from the store (`GET /v1/widget/config`). */
  titles?: Record<string, string>;
  /** The store's greeting per language, shown while the conversation connects. */
  greeting?: Record<string, string>;
  /** The store's other colours, validated #hex each. */
  colours?: Colours;
  /** The avatar's absolute URL (https:, or a path on the server), or null. */
  avatar?: string | null;
  /** Which settings the script tag set itself (the server's look never overrides them). */
  explicit?: { position: boolean; color: boolean; locale: boolean };
}

export interface Colours {
  background?: string;
  text?: string;
  bot_bubble?: string;
  user_bubble?: string;
}

const COLOURS = ['background', 'text', 'bot_bubble', 'user_bubble'] as const;

/** A language tag's base, lower case: `es-MX` → `es`. */
const base = (tag: string) => tag.trim().toLowerCase().split(/[-_]/)[0];

const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

/** `{ "en": "Help", "es-MX": "Ayuda" }` → `{ en: "Help", es: "Ayuda" }`: non-empty strings only, cut to `max`. */
function perLanguage(value: unknown, max: number): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const text = typeof v === 'string' ? v.trim().slice(0, max) : '';
    if (text && !(base(k) in out)) out[base(k)] = text;
  }
  return out;
}

/** An `https:` URL, or a path on the server (under `baseUrl`); anything else is null. */
export function safeAvatar(value: unknown, baseUrl: string): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  const path = v.startsWith('/') && !/^\/[/\\]/.test(v);
  if (!path && !v.toLowerCase().startsWith('https://')) return null;
  try {
    const u = new URL(path ? baseUrl + v : v);
    return u.protocol === 'https:' || (path && u.protocol === 'http:') ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * The store's look from `GET /v1/widget/config` (titles, greeting, colours,
 * avatar, position, languages), applied under the script tag's own
 * attributes: an attribute always wins. Anything malformed in `look` is ignored.
 */
export function applyServerLook(config: WidgetConfig, look: unknown): WidgetConfig {
  if (!isObject(look)) return config;
  const explicit = config.explicit ?? { position: false, color: false, locale: false };
  const languages = Array.isArray(look.languages)
    ? look.languages.filter((l): l is string => typeof l === 'string').map(base)
    : [];
  // A locale the store does not speak gives way to the store's first language,
  // if the widget has words for it.
  const first = languages[0] ?? null;
  const storeLocale = normalizeLocale(first);
  const locale =
    !explicit.locale && languages.length && !languages.includes(config.locale) && storeLocale
      ? storeLocale
      : config.locale;
  // `title` is the first language's (older servers send no `titles`).
  const titles = perLanguage(look.titles, 80);
  const title = typeof look.title === 'string' ? look.title.trim().slice(0, 80) : '';
  const titleLanguage = first ?? locale;
  if (title && !titles[titleLanguage]) titles[titleLanguage] = title;
  const c = isObject(look.colours) ? look.colours : {};
  const colours: Colours = {};
  for (const k of COLOURS) {
    const v = typeof c[k] === 'string' ? safeColor(c[k]) : null;
    if (v) colours[k] = v;
  }
  // An attribute colour is the page's accent: the shopper's bubbles keep it.
  if (explicit.color) delete colours.user_bubble;
  const primary = typeof c.primary === 'string' ? safeColor(c.primary) : null;
  const position =
    look.position === 'bottom-left' ? 'left' : look.position === 'bottom-right' ? 'right' : null;
  return {
    ...config,
    locale,
    titles,
    greeting: perLanguage(look.greeting, 500),
    colours,
    avatar: safeAvatar(look.avatar, config.baseUrl),
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
    explicit: {
      position: attr('data-wismo-position') !== null,
      color: safeColor(attr('data-wismo-color')) !== null,
      locale: normalizeLocale(attr('data-wismo-locale')) !== null,
    },
  };
}
