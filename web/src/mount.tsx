// Puts the widget on a page: a <wismo-widget> element at the end of <body>
// whose open shadow root holds the styles and the React tree, so the page's
// CSS and the widget's never meet.

import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import type { WidgetConfig } from './config';
import { App } from './ui/App';
import css from './ui/styles.css?inline';
import { Widget, type WidgetDeps } from './widget';

export interface Mounted {
  widget: Widget;
  host: HTMLElement;
  shadow: ShadowRoot;
  unmount(): void;
}

export function mount(config: WidgetConfig, deps: WidgetDeps = {}, parent?: HTMLElement): Mounted {
  const doc = parent?.ownerDocument ?? document;
  const host = doc.createElement('wismo-widget');
  host.setAttribute('data-wismo', '');
  (parent ?? doc.body).appendChild(host);
  const shadow = host.attachShadow({ mode: 'open' });
  const style = doc.createElement('style');
  style.textContent = css;
  shadow.appendChild(style);
  const container = doc.createElement('div');
  shadow.appendChild(container);

  const widget = new Widget(config, deps);
  const root = createRoot(container);
  flushSync(() => root.render(<App widget={widget} />));
  widget.start();

  return {
    widget,
    host,
    shadow,
    unmount() {
      widget.client.stop();
      root.unmount();
      host.remove();
    },
  };
}
