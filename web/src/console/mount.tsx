// Puts the console on a page (console.html's #console-root), styles and all.

import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import { ConsoleController, type ConsoleDeps } from './controller';
import css from './console.css?inline';
import { ConsoleApp } from './ui/ConsoleApp';

export interface MountedConsole {
  controller: ConsoleController;
  container: HTMLElement;
  unmount(): void;
}

export function mountConsole(container: HTMLElement, deps: ConsoleDeps = {}, now?: () => number): MountedConsole {
  const doc = container.ownerDocument;
  if (!doc.getElementById('wismo-console-css')) {
    const style = doc.createElement('style');
    style.id = 'wismo-console-css';
    style.textContent = css;
    doc.head.appendChild(style);
  }
  const controller = new ConsoleController(deps);
  const root = createRoot(container);
  flushSync(() => root.render(<ConsoleApp controller={controller} now={now} />));
  void controller.start();
  return {
    controller,
    container,
    unmount() {
      controller.stop();
      root.unmount();
    },
  };
}
