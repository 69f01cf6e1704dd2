// The store's look from GET /v1/widget/config, under the script tag's own
// attributes: the server sets titles, greeting, colours, avatar, side and
// language; an attribute wins.
import { describe, expect, it } from 'vitest';
import { applyServerLook, readConfig, safeAvatar } from '../src/config';
import { Widget } from '../src/widget';

const LOOK = {
  title: 'Acme help',
  titles: { en: 'Acme help', es: 'Ayuda de Acme' },
  greeting: { en: 'Hello from Acme!', es: '' },
  colours: {
    primary: '#aa3300',
    background: '#fffaf0',
    text: '#222222',
    bot_bubble: '#eeeeee',
    user_bubble: '#113355',
  },
  avatar: '/static/acme.png',
  position: 'bottom-left',
  languages: ['en', 'es'],
  quick_replies: { en: ['Where is my order?'], es: ['¿Dónde está mi pedido?'] },
};

function script(attrs: Record<string, string>): Element {
  const el = document.createElement('script');
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const PAGE = { href: 'https://shop.test/' };
const SRC = { src: 'https://chat.test/widget.js' };

describe('the server look', () => {
  it('sets titles, greeting, colours, avatar and side when the script tag does not', () => {
    const c = applyServerLook(readConfig(script(SRC), PAGE), LOOK);
    expect(c.titles).toEqual({ en: 'Acme help', es: 'Ayuda de Acme' });
    expect(c.greeting).toEqual({ en: 'Hello from Acme!' }); // an empty one is not set
    expect(c.color).toBe('#aa3300');
    expect(c.colours).toEqual({ background: '#fffaf0', text: '#222222', bot_bubble: '#eeeeee', user_bubble: '#113355' });
    expect(c.avatar).toBe('https://chat.test/static/acme.png');
    expect(c.position).toBe('left');
  });

  it('never overrides an attribute; the shopper’s bubbles keep an attribute colour', () => {
    const tag = script({ ...SRC, 'data-wismo-color': '#0a7d5a', 'data-wismo-position': 'right' });
    const c = applyServerLook(readConfig(tag, PAGE), LOOK);
    expect(c.color).toBe('#0a7d5a');
    expect(c.colours?.user_bubble).toBeUndefined();
    expect(c.colours?.background).toBe('#fffaf0');
    expect(c.position).toBe('right');
  });

  it("uses the old single title only for the store's first language", () => {
    const c = applyServerLook(readConfig(script(SRC), PAGE), { title: 'Acme help', languages: ['en', 'es'] });
    expect(c.titles).toEqual({ en: 'Acme help' });
  });

  it("switches to the store's first language when the widget's is not the store's", () => {
    const fromPage = (lang: string, languages: unknown, attrs: Record<string, string> = {}) =>
      applyServerLook(readConfig(script({ ...SRC, ...attrs }), { ...PAGE, lang }), { languages }).locale;
    expect(fromPage('es', ['en'])).toBe('en');
    expect(fromPage('en', ['es-MX', 'en'])).toBe('en'); // the store speaks it
    expect(fromPage('en', ['es-MX'])).toBe('es');
    expect(fromPage('es', ['fr', 'de'])).toBe('es'); // no words for French: keep
    expect(fromPage('en', ['en'], { 'data-wismo-locale': 'es' })).toBe('es'); // the attribute wins
    expect(fromPage('es', 'en')).toBe('es');
  });

  it('ignores what is malformed, without throwing', () => {
    const base = readConfig(script({}), PAGE);
    for (const bad of [null, undefined, 42, 'look', [LOOK], true]) {
      expect(applyServerLook(base, bad)).toEqual(base);
    }
    const c = applyServerLook(base, {
      title: 42,
      titles: ['Help'],
      greeting: 'Hi',
      colours: { primary: 'red; x', background: 'url(x)', text: 7, bot_bubble: null, user_bubble: '#12345' },
      avatar: 42,
      position: 'top',
      languages: [null, 3],
    });
    expect(c).toMatchObject({ color: null, position: 'right', locale: 'en', titles: {}, greeting: {}, colours: {} });
    expect(c.avatar).toBeNull();
    const odd = [{ titles: null, greeting: 3, colours: [] }, { colours: null, languages: {} }, { titles: 1, avatar: [] }];
    for (const bad of odd) expect(() => applyServerLook(base, bad)).not.toThrow();
  });

  it('takes an https: avatar or a path on the server, and nothing else', () => {
    const at = 'https://chat.test/api';
    expect(safeAvatar('https://cdn.example/a.png', at)).toBe('https://cdn.example/a.png');
    expect(safeAvatar(' /static/a.png ', at)).toBe('https://chat.test/api/static/a.png');
    expect(safeAvatar('/a.png', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/a.png');
    for (const bad of [
      'javascript:alert(1)',
      'JAVASCRIPT:alert(1)',
      'data:image/png;base64,AAAA',
      'http://cdn.example/a.png',
      '//evil.example/a.png',
      '/\\evil.example/a.png',
      'a.png',
      '',
      null,
      42,
    ]) {
      expect(safeAvatar(bad, at)).toBeNull();
    }
    expect(safeAvatar('/a.png', '')).toBeNull();
  });

  it('is fetched from the server at start and shown', async () => {
    const asked: string[] = [];
    const fetchLook = (async (url: string) => {
      asked.push(String(url));
      return new Response(JSON.stringify(LOOK), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const widget = new Widget(readConfig(script(SRC), PAGE));
    let changed = 0;
    widget.subscribeView(() => changed++);
    await widget.loadLook(fetchLook);
    expect(asked).toEqual(['https://chat.test/v1/widget/config']);
    expect(widget.config.titles?.en).toBe('Acme help');
    expect(widget.config.position).toBe('left');
    expect(changed).toBe(1);
  });

  it("moves the view to the store's language, unless the page already chose one", () => {
    const widget = new Widget(readConfig(script(SRC), { ...PAGE, lang: 'es' }));
    widget.applyLook({ languages: ['en'] });
    expect(widget.getView().locale).toBe('en');
    const chosen = new Widget(readConfig(script(SRC), { ...PAGE, lang: 'en' }));
    chosen.setLocale('en');
    chosen.applyLook({ languages: ['es'] });
    expect(chosen.getView().locale).toBe('en');
  });

  it('keeps the defaults when the server cannot be reached', async () => {
    const failing = (async () => {
      throw new TypeError('offline');
    }) as unknown as typeof fetch;
    const widget = new Widget(readConfig(script({}), PAGE));
    await widget.loadLook(failing);
    expect(widget.config.titles).toBeUndefined();
  });
});
