// The entry of dist/widget.js: reads the <script> tag's data-wismo-*
// attributes, mounts the widget and gives the page `window.wismo`.

import { readConfig } from './config';
import { mount } from './mount';
import type { WismoApi } from './widget';

declare global {
  interface Window {
    wismo?: WismoApi & { version?: string };
  }
}

// Only readable while this script first runs.
const script =
  (document.currentScript as HTMLScriptElement | null) ??
  document.querySelector<HTMLScriptElement>('script[data-wismo-locale], script[src$="/widget.js"], script[src="widget.js"]');

function boot() {
  if (document.querySelector('wismo-widget[data-wismo]')) return; // loaded twice
  const config = readConfig(script, {
    href: location.href,
    lang: document.documentElement.getAttribute('lang'),
    languages: navigator.languages ?? [navigator.language],
  });
  const { widget } = mount(config, {
    page: () => location.href,
  });
  void widget.loadLook();
  window.addEventListener('online', () => widget.client.networkOnline());
  window.addEventListener('offline', () => widget.client.networkOffline());
  window.wismo = { ...widget.api(), version: '0.1.0' };
}

if (document.body) boot();
else document.addEventListener('DOMContentLoaded', boot, { once: true });
