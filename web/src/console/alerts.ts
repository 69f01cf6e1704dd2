// The console's alerts for a new hand-off: a short chime made with WebAudio
// (no audio file) and a desktop notification, when the agent allowed them.

import type { Permission } from './notify';

export interface Alerts {
  /** A two-note chime. */
  play(): void;
  /** Called from a click or key press: browsers only start audio after one. */
  unlock(): void;
  permission(): Permission;
  /** Asks the browser (only ever from a button). */
  request(): Promise<Permission>;
  show(title: string, body: string, tag: string, onClick: () => void): void;
}

type AudioCtor = typeof AudioContext;

export function browserAlerts(win: Window & typeof globalThis = window): Alerts {
  let ctx: AudioContext | null = null;
  const audio = (): AudioContext | null => {
    const AC = (win.AudioContext ?? (win as unknown as { webkitAudioContext?: AudioCtor }).webkitAudioContext) as
      | AudioCtor
      | undefined;
    if (!AC) return null;
    try {
      ctx ??= new AC();
    } catch {
      return null;
    }
    return ctx;
  };
  const N = (win as unknown as { Notification?: typeof Notification }).Notification;
  return {
    unlock() {
      const c = audio();
      if (c && c.state === 'suspended') void c.resume().catch(() => undefined);
    },
    play() {
      const c = audio();
      if (!c) return;
      if (c.state === 'suspended') void c.resume().catch(() => undefined);
      const t0 = c.currentTime + 0.01;
      for (const [freq, at] of [
        [880, 0],
        [1318.5, 0.13],
      ] as const) {
        const osc = c.createOscillator();
        const gain = c.createGain();
        osc.type = 'sine';
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t0 + at);
        gain.gain.exponentialRampToValueAtTime(0.18, t0 + at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.28);
        osc.connect(gain);
        gain.connect(c.destination);
        osc.start(t0 + at);
        osc.stop(t0 + at + 0.3);
      }
    },
    permission() {
      return N ? (N.permission as Permission) : 'unsupported';
    },
    async request() {
      if (!N) return 'unsupported';
      try {
        return (await N.requestPermission()) as Permission;
      } catch {
        return N.permission as Permission;
      }
    },
    show(title, body, tag, onClick) {
      if (!N || N.permission !== 'granted') return;
      try {
        const n = new N(title, { body, tag });
        n.onclick = () => {
          win.focus();
          onClick();
          n.close();
        };
      } catch {
        /* some browsers only allow notifications from a service worker */
      }
    },
  };
}

/** Alerts that do nothing (no window: tests, or a browser without either). */
export const silentAlerts: Alerts = {
  play() {},
  unlock() {},
  permission: () => 'unsupported',
  request: async () => 'unsupported',
  show() {},
};
