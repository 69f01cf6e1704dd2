// The agent's live stream: `GET /v1/agent/stream` as Server-Sent Events
// (the session cookie goes with it, same origin). The browser reconnects by
// itself after a dropped connection; when it gives up (the server answered
// with an error, e.g. 401 after the session ended) `closed` is called, and
// `retry()` opens a new one after a backoff. Every event carries an id; the
// browser's own reconnects send the last one as `Last-Event-ID`, and a new
// stream opened by `retry()` passes it as `?last_event_id=`, so the server
// (any instance) first sends what was missed in between.

export interface EventSourceLike {
  readyState: number;
  onopen: ((ev: Event) => void) | null;
  onerror: ((ev: Event) => void) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export interface StreamHandlers {
  queue(data: unknown): void;
  handoff(data: unknown): void;
  activity(data: unknown): void;
  status(status: 'connecting' | 'live' | 'reconnecting'): void;
  /** The browser stopped retrying: check the session, then `retry()`. */
  closed(): void;
}

const CLOSED = 2;

export class AgentStream {
  private source: EventSourceLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private wasLive = false;
  private stopped = false;
  /** The id of the last event received ('' before the first). */
  private lastId = '';

  constructor(
    private readonly url: string,
    private readonly create: EventSourceFactory,
    private readonly on: StreamHandlers,
    private readonly backoff = { base: 1000, max: 30000 },
  ) {}

  start(): void {
    this.stopped = false;
    if (this.source) return;
    this.on.status(this.wasLive ? 'reconnecting' : 'connecting');
    let es: EventSourceLike;
    try {
      es = this.create(this.urlToOpen());
    } catch {
      this.on.status('reconnecting');
      this.retry();
      return;
    }
    this.source = es;
    es.onopen = () => {
      this.attempt = 0;
      this.wasLive = true;
      this.on.status('live');
    };
    es.onerror = () => {
      if (this.source !== es) return;
      if (es.readyState === CLOSED) {
        es.close();
        this.source = null;
        this.on.status('reconnecting');
        this.on.closed();
      } else {
        this.on.status('reconnecting');
      }
    };
    const listen = (type: 'queue' | 'handoff' | 'activity') =>
      es.addEventListener(type, (ev) => {
        if (this.source !== es) return;
        if (typeof ev.lastEventId === 'string' && ev.lastEventId !== '') this.lastId = ev.lastEventId;
        let data: unknown;
        try {
          data = JSON.parse(String(ev.data));
        } catch {
          return;
        }
        this.on[type](data);
      });
    listen('queue');
    listen('handoff');
    listen('activity');
  }

  /** The stream's URL, resuming after the last event received. */
  private urlToOpen(): string {
    if (this.lastId === '') return this.url;
    const sep = this.url.includes('?') ? '&' : '?';
    return `${this.url}${sep}last_event_id=${encodeURIComponent(this.lastId)}`;
  }

  /** Opens a new stream after a backoff (1 s doubling up to 30 s). */
  retry(): void {
    if (this.stopped || this.timer !== null || this.source) return;
    const delay = Math.min(this.backoff.max, this.backoff.base * 2 ** Math.min(this.attempt, 10));
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, delay);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const es = this.source;
    this.source = null;
    this.wasLive = false;
    this.attempt = 0;
    this.lastId = '';
    es?.close();
  }
}
