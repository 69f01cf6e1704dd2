// Ties the pieces together: the chat store, the client and the view state
// (open or closed, the locale), behind the small API the page gets as
// `window.wismo`.

import { WismoClient, type SocketFactory, type StorageLike } from './client';
import { applyServerLook, type WidgetConfig } from './config';
import { normalizeLocale } from './i18n';
import { ChatStore } from './store';
import type { Locale } from './types';

export interface ViewState {
  open: boolean;
  locale: Locale;
  /** Whether closing should put the focus back on the launcher. */
  restoreFocus: boolean;
}

export interface WidgetDeps {
  fetch?: typeof fetch;
  createSocket?: SocketFactory;
  storage?: StorageLike | null;
  /** Where the unread badge's read mark is kept (default: sessionStorage). */
  session?: StorageLike | null;
  newId?: () => string;
  random?: () => number;
  /** The page's address, sent as the conversation's metadata. */
  page?: () => string;
}

/** What the page can call: `window.wismo`. */
export interface WismoApi {
  open(): void;
  close(): void;
  toggle(): void;
  setLocale(locale: string): void;
  identify(token: string | null): void;
}

export class Widget {
  readonly store = new ChatStore();
  readonly client: WismoClient;
  config: WidgetConfig;
  private view: ViewState;
  private listeners = new Set<() => void>();
  private localeChosen = false;
  /** Set by the UI: whether the keyboard focus is inside the widget. */
  hasFocus: () => boolean = () => false;

  constructor(config: WidgetConfig, deps: WidgetDeps = {}) {
    this.config = config;
    this.view = { open: false, locale: config.locale, restoreFocus: false };
    const page = deps.page ?? (() => (typeof location !== 'undefined' ? location.href : ''));
    this.client = new WismoClient({
      baseUrl: config.baseUrl,
      store: this.store,
      fetch: deps.fetch,
      createSocket: deps.createSocket,
      storage: deps.storage,
      session: deps.session,
      newId: deps.newId,
      random: deps.random,
      locale: () => this.view.locale,
      metadata: () => ({ page: page().slice(0, 2000) }),
    });
    if (config.customerToken) this.client.identify(config.customerToken);
  }

  getView = (): ViewState => this.view;

  subscribeView = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  private setView(patch: Partial<ViewState>): void {
    this.view = { ...this.view, ...patch };
    for (const l of Array.from(this.listeners)) l();
  }

  start(): void {
    this.client.start();
  }

  /** Applies the store's look (`GET /v1/widget/config`) under the script tag's attributes. */
  applyLook(look: unknown): void {
    this.config = applyServerLook(this.config, look);
    // A locale the page chose with setLocale stays.
    this.setView(this.localeChosen ? {} : { locale: this.config.locale });
  }

  /** Fetches the store's look from the server; a failure keeps the defaults. */
  async loadLook(fetchImpl: typeof fetch = fetch): Promise<void> {
    try {
      const res = await fetchImpl(`${this.config.baseUrl}/v1/widget/config`, {
        headers: { accept: 'application/json' },
      });
      if (res.ok) this.applyLook(await res.json());
    } catch {
      // The defaults and the attributes stay.
    }
  }

  open = (): void => {
    this.store.dispatch({ type: 'panel', open: true });
    if (!this.view.open) this.setView({ open: true, restoreFocus: false });
    this.client.open();
  };

  close = (): void => {
    if (this.view.open) this.setView({ open: false, restoreFocus: this.hasFocus() });
    this.store.dispatch({ type: 'panel', open: false });
  };

  toggle = (): void => {
    if (this.view.open) this.close();
    else this.open();
  };

  setLocale = (locale: string): void => {
    const l = normalizeLocale(locale);
    if (l) this.localeChosen = true;
    if (l && l !== this.view.locale) this.setView({ locale: l });
  };

  identify = (token: string | null): void => {
    this.client.identify(typeof token === 'string' && token ? token : null);
  };

  send = (text: string): string | null => this.client.send(text);

  retry = (clientId: string): void => this.client.retry(clientId);

  typing = (on: boolean): void => this.client.typing(on);

  submitCsat = (score: number, comment: string) => this.client.submitCsat(score, comment);

  api(): WismoApi {
    return {
      open: this.open,
      close: this.close,
      toggle: this.toggle,
      setLocale: this.setLocale,
      identify: this.identify,
    };
  }
}
