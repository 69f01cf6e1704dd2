// Ties the console together: the API, the live stream, the store, alerts and
// the agent's preferences. The UI calls its methods; every dependency that
// touches the browser is injected, so it runs in tests with fakes.

import type { StorageLike } from '../client';
import { silentAlerts, type Alerts } from './alerts';
import { ApiError, ConsoleApi, errorMessage } from './api';
import { reasonLabel } from './format';
import { normalizeSnapshot } from './normalize';
import { decideNotification, notificationText, type Permission } from './notify';
import { ConsoleStore, isMine } from './state';
import { AgentStream, type EventSourceFactory } from './stream';
import { isNewer, lastId } from './transcript';
import type { CannedReply, Case, HandoffEvent, Outcome, PriorityLabel } from './types';

export interface ConsoleDeps {
  /** Where the API is; '' (default) is this page's origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
  createEventSource?: EventSourceFactory | null;
  alerts?: Alerts;
  storage?: StorageLike | null;
  now?: () => number;
  /** Whether the page is visible and focused. */
  pageActive?: () => boolean;
}

export interface Prefs {
  soundOn: boolean;
  permission: Permission;
}

/** What the polite live region says; `n` changes so the same words are said again. */
export interface Announcement {
  text: string;
  n: number;
}

export const SOUND_KEY = 'wismo.console.sound';

/** An action's outcome: null when it worked, else the error in words. */
export type Result = string | null;

export class ConsoleController {
  readonly store = new ConsoleStore();
  readonly api: ConsoleApi;
  private readonly stream: AgentStream | null;
  private readonly alerts: Alerts;
  private readonly storage: StorageLike | null;
  private readonly now: () => number;
  private readonly pageActive: () => boolean;
  private prefs: Prefs;
  private announcement: Announcement = { text: '', n: 0 };
  private listeners = new Set<() => void>();
  private loading = new Map<string, Promise<void>>();
  /** What was being written in each conversation (kept while switching;
   * forgotten when the session ends). */
  readonly drafts = new Map<string, { text: string; note: boolean }>();
  private again = new Set<string>();

  constructor(deps: ConsoleDeps = {}) {
    this.api = new ConsoleApi({ baseUrl: deps.baseUrl, fetch: deps.fetch });
    this.alerts = deps.alerts ?? silentAlerts;
    this.storage = deps.storage === undefined ? defaultStorage() : deps.storage;
    this.now = deps.now ?? Date.now;
    this.pageActive =
      deps.pageActive ??
      (() => typeof document !== 'undefined' && document.visibilityState === 'visible' && document.hasFocus());
    const factory =
      deps.createEventSource === undefined
        ? typeof EventSource === 'function'
          ? (url: string) => new EventSource(url, { withCredentials: true })
          : null
        : deps.createEventSource;
    const base = (deps.baseUrl ?? '').replace(/\/+$/, '');
    this.stream = factory
      ? new AgentStream(`${base}/v1/agent/stream`, factory, {
          queue: (d) => this.store.dispatch({ type: 'snapshot', snapshot: normalizeSnapshot(d), at: this.now() }),
          handoff: (d) => this.onHandoff(d),
          activity: (d) => this.onActivity(d),
          status: (s) => this.store.dispatch({ type: 'stream', status: s }),
          closed: () => void this.onStreamClosed(),
        })
      : null;
    let soundOn = true;
    try {
      soundOn = this.storage?.getItem(SOUND_KEY) !== 'off';
    } catch {
      /* default */
    }
    this.prefs = { soundOn, permission: this.alerts.permission() };
  }

  // ---- observable preferences and announcements

  getPrefs = (): Prefs => this.prefs;
  getAnnouncement = (): Announcement => this.announcement;

  subscribeUi = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };

  private emitUi(): void {
    for (const l of Array.from(this.listeners)) l();
  }

  /** Says something in the polite live region. */
  announce(text: string): void {
    this.announcement = { text, n: this.announcement.n + 1 };
    this.emitUi();
  }

  setSound(on: boolean): void {
    if (on) this.alerts.unlock();
    this.prefs = { ...this.prefs, soundOn: on };
    try {
      this.storage?.setItem(SOUND_KEY, on ? 'on' : 'off');
    } catch {
      /* for this page only */
    }
    this.emitUi();
  }

  /** Asks the browser for desktop notifications (from a button only). */
  async enableNotifications(): Promise<Permission> {
    this.alerts.unlock();
    const p = await this.alerts.request();
    this.prefs = { ...this.prefs, permission: p };
    this.emitUi();
    return p;
  }

  /** Plays the hand-off chime once (the "Test sound" button). */
  testSound(): void {
    this.alerts.unlock();
    this.alerts.play();
  }

  // ---- session

  /** Checks the cookie: signed in already, or show the sign-in form. */
  async start(): Promise<void> {
    this.store.dispatch({ type: 'checking' });
    try {
      const me = await this.api.me();
      if (me) this.signedIn(me);
      else this.store.dispatch({ type: 'signed-out' });
    } catch (e) {
      this.store.dispatch({ type: 'signed-out', notice: errorMessage(e, 'load') });
    }
  }

  async signIn(email: string, password: string): Promise<Result> {
    this.alerts.unlock(); // a click: the chime may play later
    try {
      const agent = await this.api.signIn(email.trim(), password);
      this.signedIn(agent);
      return null;
    } catch (e) {
      return errorMessage(e, 'sign-in');
    }
  }

  async signOut(): Promise<void> {
    this.stream?.stop();
    this.drafts.clear();
    try {
      await this.api.signOut();
    } catch {
      /* signed out here whatever the server said */
    }
    this.store.dispatch({ type: 'signed-out', notice: 'You have signed out.' });
  }

  stop(): void {
    this.stream?.stop();
  }

  private signedIn(agent: NonNullable<ReturnType<ConsoleStore['getState']>['me']>): void {
    this.store.dispatch({ type: 'signed-in', agent });
    this.stream?.start();
    void this.loadCanned();
  }

  private sessionEnded(): void {
    this.stream?.stop();
    this.drafts.clear();
    this.store.dispatch({ type: 'signed-out', notice: 'Your session has ended. Sign in again.' });
  }

  /** An action's error: ends the session on 401, else the words for it. */
  private failed(e: unknown, action: Parameters<typeof errorMessage>[1]): string {
    if (e instanceof ApiError && e.status === 401) this.sessionEnded();
    return errorMessage(e, action);
  }

  private async onStreamClosed(): Promise<void> {
    try {
      const me = await this.api.me();
      if (!me) {
        this.sessionEnded();
        return;
      }
    } catch {
      /* server unreachable: keep trying */
    }
    if (this.store.getState().auth === 'signed-in') this.stream?.retry();
  }

  // ---- stream events

  private onHandoff(data: unknown): void {
    const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    if (typeof d.case_id !== 'string' || typeof d.conversation_id !== 'string') return;
    const label = d.priority_label;
    const ev: HandoffEvent = {
      case_id: d.case_id,
      conversation_id: d.conversation_id,
      reason: typeof d.reason === 'string' ? d.reason : '',
      priority_label: label === 'high' || label === 'low' ? (label as PriorityLabel) : 'normal',
    };
    const s = this.store.getState();
    const decision = decideNotification(ev, {
      signedIn: s.auth === 'signed-in',
      seenCaseIds: s.seen,
      mine: s.mine.map((c) => c.conversation_id),
      openConversationId: s.openId,
      ownActions: s.ownActions,
      now: this.now(),
      soundOn: this.prefs.soundOn,
      permission: this.alerts.permission(),
      pageActive: this.pageActive(),
    });
    this.store.dispatch({ type: 'seen', caseId: ev.case_id });
    if (decision.why !== 'new') return;
    this.announce(`New hand-off ${ev.case_id}: ${reasonLabel(ev.reason)}, ${ev.priority_label} priority.`);
    if (decision.sound) this.alerts.play();
    if (decision.desktop) {
      const { title, body } = notificationText(ev);
      this.alerts.show(title, body, ev.case_id, () => void this.open(ev.conversation_id));
    }
  }

  private onActivity(data: unknown): void {
    const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    if (typeof d.conversation_id !== 'string') return;
    const id = d.conversation_id;
    const seq = typeof d.seq === 'number' ? String(d.seq) : typeof d.seq === 'string' ? d.seq : null;
    const s = this.store.getState();
    if (s.openId === id) {
      const entry = s.conversations[id];
      if (!entry || isNewer(seq, entry.messages)) void this.refresh(id);
    } else {
      this.store.dispatch({ type: 'activity', id });
    }
  }

  // ---- conversations

  /** Opens a conversation in the pane and loads it. */
  async open(id: string): Promise<void> {
    this.store.dispatch({ type: 'open', id });
    await this.refresh(id);
  }

  close(): void {
    this.store.dispatch({ type: 'close' });
  }

  /** Fetches what is new (`?after=` the last id held); one fetch at a time
   * per conversation, and one more if asked meanwhile. */
  refresh(id: string): Promise<void> {
    const running = this.loading.get(id);
    if (running) {
      this.again.add(id);
      return running;
    }
    const p = (async () => {
      do {
        this.again.delete(id);
        const entry = this.store.getState().conversations[id];
        try {
          const view = await this.api.conversation(id, entry ? lastId(entry.messages) : null);
          this.store.dispatch({ type: 'loaded', id, view });
        } catch (e) {
          this.store.dispatch({ type: 'load-failed', id, error: this.failed(e, 'load') });
          this.again.delete(id);
        }
      } while (this.again.has(id));
    })().finally(() => this.loading.delete(id));
    this.loading.set(id, p);
    return p;
  }

  private mark(id: string): void {
    this.store.dispatch({ type: 'own-action', id, at: this.now() });
  }

  private async caseAction(
    id: string,
    kind: 'accept' | 'transfer' | 'release' | 'resolve',
    run: () => Promise<Case>,
    done: (c: Case) => string,
  ): Promise<Result> {
    this.mark(id);
    try {
      const c = await run();
      this.store.dispatch({ type: 'case', case: c });
      this.mark(id);
      this.announce(done(c));
      void this.refresh(id);
      return null;
    } catch (e) {
      return this.failed(e, kind);
    }
  }

  accept(id: string): Promise<Result> {
    return this.caseAction(id, 'accept', () => this.api.accept(id), (c) => `You accepted case ${c.case_id}.`);
  }

  transfer(id: string, agentId: string): Promise<Result> {
    const name = this.store.getState().agents.find((a) => a.id === agentId)?.name ?? 'the agent';
    return this.caseAction(
      id,
      'transfer',
      () => this.api.transfer(id, agentId),
      (c) => `Case ${c.case_id} transferred to ${name}.`,
    );
  }

  release(id: string): Promise<Result> {
    return this.caseAction(id, 'release', () => this.api.release(id), (c) => `Case ${c.case_id} handed back to the bot.`);
  }

  resolve(id: string, outcome: Outcome, tags: string[]): Promise<Result> {
    return this.caseAction(id, 'resolve', () => this.api.resolve(id, outcome, tags), (c) => `Case ${c.case_id} resolved.`);
  }

  /** Sends a reply to the shopper, or (`note`) an internal note. */
  async send(id: string, text: string, note: boolean): Promise<Result> {
    const t = text.trim();
    if (!t) return 'Write something first.';
    const entry = this.store.getState().conversations[id];
    if (!note && !isMine(this.store.getState(), entry?.case ?? null)) {
      return "This case isn't assigned to you. Accept it before replying.";
    }
    this.mark(id);
    try {
      const m = note ? await this.api.addNote(id, t) : await this.api.sendMessage(id, t);
      this.store.dispatch({ type: 'message', id, message: m });
      this.announce(note ? 'Internal note added.' : 'Reply sent.');
      return null;
    } catch (e) {
      return this.failed(e, note ? 'note' : 'send');
    }
  }

  /** Tells the shopper whether I am typing (errors do not matter). */
  typing(id: string, on: boolean): void {
    void this.api.typing(id, on).catch(() => undefined);
  }

  // ---- canned replies

  async loadCanned(): Promise<Result> {
    try {
      this.store.dispatch({ type: 'canned', replies: await this.api.cannedReplies() });
      return null;
    } catch (e) {
      return this.failed(e, 'canned');
    }
  }

  async addCanned(reply: Omit<CannedReply, 'id'>): Promise<Result> {
    try {
      const r = await this.api.addCannedReply(reply);
      this.store.dispatch({ type: 'canned-added', reply: r });
      this.announce(`Canned reply ${r.shortcut} added.`);
      return null;
    } catch (e) {
      return this.failed(e, 'canned');
    }
  }

  async deleteCanned(id: string): Promise<Result> {
    const r = this.store.getState().canned.find((x) => x.id === id);
    try {
      await this.api.deleteCannedReply(id);
      this.store.dispatch({ type: 'canned-removed', id });
      this.announce(`Canned reply ${r?.shortcut ?? ''} deleted.`);
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        this.store.dispatch({ type: 'canned-removed', id });
        return null;
      }
      return this.failed(e, 'canned');
    }
  }
}

function defaultStorage(): StorageLike | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
