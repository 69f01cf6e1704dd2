import { describe, expect, it } from 'vitest';
import { TypingSignal } from '../../src/console/typing';

function setup() {
  let t = 0;
  const sent: boolean[] = [];
  const timers: { fn: () => void; at: number; live: boolean }[] = [];
  const signal = new TypingSignal((on) => sent.push(on), {
    idleMs: 4000,
    refreshMs: 5000,
    now: () => t,
    setTimer: (fn, ms) => {
      const timer = { fn, at: t + ms, live: true };
      timers.push(timer);
      return timer;
    },
    clearTimer: (x) => {
      (x as { live: boolean }).live = false;
    },
  });
  const advance = (ms: number) => {
    t += ms;
    for (const x of timers) {
      if (x.live && x.at <= t) {
        x.live = false;
        x.fn();
      }
    }
  };
  return { signal, sent, advance };
}

describe('agent typing', () => {
  it('sends on once, refreshes while typing goes on, and off after a pause', () => {
    const { signal, sent, advance } = setup();
    signal.input();
    advance(1000);
    signal.input();
    advance(1000);
    signal.input();
    expect(sent).toEqual([true]);
    advance(3000);
    signal.input(); // 5 s since the last "on"
    expect(sent).toEqual([true, true]);
    advance(4000);
    expect(sent).toEqual([true, true, false]);
    advance(10000);
    expect(sent).toEqual([true, true, false]);
  });

  it('stop() sends off once, and only if on', () => {
    const { signal, sent } = setup();
    signal.stop();
    expect(sent).toEqual([]);
    signal.input();
    signal.stop();
    signal.stop();
    expect(sent).toEqual([true, false]);
  });
});
