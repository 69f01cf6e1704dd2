// The store's look from GET /v1/widget/config, under the script tag's own
// attributes: the server sets title, colour and side; an attribute wins.
import { describe, expect, it } from 'vitest';
import { applyServerLook, readConfig } from '../src/config';
import { Widget } from '../src/widget';

const LOOK = {
  title: 'Acme help',
  greeting: { en: 'Hello from Acme!' },
  colours: { primary: '#aa3300' },
  position: 'bottom-left',
  languages: ['en'],
  quick_replies: { en: ['Where is my order?'] },
};

function script(attrs: Record<string, string>): Element {
  const el = document.createElement('script');
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const PAGE = { href: 'https://shop.test/' };

describe('the server look', () => {
  it('sets title, colour and side when the script tag does not', () => {
    const c = applyServerLook(readConfig(script({ src: 'https://chat.test/widget.js' }), PAGE), LOOK);
    expect(c.title).toBe('Acme help');
    expect(c.color).toBe('#aa3300');
    expect(c.position).toBe('left');
  });

  it('never overrides an attribute', () => {
    const tag = script({ src: 'https://chat.test/widget.js', 'data-wismo-color': '#0a7d5a', 'data-wismo-position': 'right' });
    const c = applyServerLook(readConfig(tag, PAGE), LOOK);
    expect(c.color).toBe('#0a7d5a');
    expect(c.position).toBe('right');
    expect(c.title).toBe('Acme help');
  });

  it("keeps the widget's own title in a language other than the store's first", () => {
    const tag = script({ src: 'https://chat.test/widget.js', 'data-wismo-locale': 'es' });
    expect(applyServerLook(readConfig(tag, PAGE), LOOK).title).toBeNull();
  });

  it('ignores what is malformed', () => {
    const base = readConfig(script({}), PAGE);
    expect(applyServerLook(base, null)).toEqual(base);
    const c = applyServerLook(base, { title: 42, colours: { primary: 'red; x' }, position: 'top' });
    expect(c.color).toBeNull();
    expect(c.position).toBe('right');
    expect(c.title).toBeNull();
  });

  it('is fetched from the server at start and shown', async () => {
    const asked: string[] = [];
    const fetchLook = (async (url: string) => {
      asked.push(String(url));
      return new Response(JSON.stringify(LOOK), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const widget = new Widget(readConfig(script({ src: 'https://chat.test/widget.js' }), PAGE));
    let changed = 0;
    widget.subscribeView(() => changed++);
    await widget.loadLook(fetchLook);
    expect(asked).toEqual(['https://chat.test/v1/widget/config']);
    expect(widget.config.title).toBe('Acme help');
    expect(widget.config.position).toBe('left');
    expect(changed).toBe(1);
  });

  it('keeps the defaults when the server cannot be reached', async () => {
    const failing = (async () => {
      throw new TypeError('offline');
    }) as unknown as typeof fetch;
    const widget = new Widget(readConfig(script({}), PAGE));
    await widget.loadLook(failing);
    expect(widget.config.title).toBeNull();
  });
});
