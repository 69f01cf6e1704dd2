// The entry of dist/console.js, which console.html loads (served at /console).

import { browserAlerts } from './alerts';
import { mountConsole } from './mount';

function boot() {
  let el = document.getElementById('console-root');
  if (!el) {
    el = document.createElement('div');
    el.id = 'console-root';
    document.body.appendChild(el);
  }
  el.textContent = '';
  mountConsole(el, { alerts: browserAlerts() });
}

if (document.body) boot();
else document.addEventListener('DOMContentLoaded', boot, { once: true });
