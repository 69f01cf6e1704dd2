// Tells the shopper the agent is typing, without a request per keystroke:
// `on` at the first keystroke and again every `refreshMs` while typing goes
// on, `off` after `idleMs` without a keystroke or when the message is sent.

export interface TypingOptions {
  idleMs?: number;
  refreshMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export class TypingSignal {
  private on = false;
  private lastSent = 0;
  private timer: unknown = null;
  private readonly idleMs: number;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;

  constructor(
    private readonly send: (on: boolean) => void,
    opts: TypingOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? 4000;
    this.refreshMs = opts.refreshMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  }

  /** A keystroke (with text in the box). */
  input(): void {
    const t = this.now();
    if (!this.on || t - this.lastSent >= this.refreshMs) {
      this.on = true;
      this.lastSent = t;
      this.send(true);
    }
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => {
      this.timer = null;
      this.stop();
    }, this.idleMs);
  }

  /** Sent, cleared, switched to a note, or left: typing is over. */
  stop(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    if (this.on) {
      this.on = false;
      this.send(false);
    }
  }
}
