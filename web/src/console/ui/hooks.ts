import { useEffect, useState, useSyncExternalStore } from 'react';
import type { ConsoleController } from '../controller';
import type { ConsoleState } from '../state';

export function useConsoleState(c: ConsoleController): ConsoleState {
  return useSyncExternalStore(c.store.subscribe, c.store.getState, c.store.getState);
}

export function usePrefs(c: ConsoleController) {
  return useSyncExternalStore(c.subscribeUi, c.getPrefs, c.getPrefs);
}

export function useAnnouncement(c: ConsoleController) {
  return useSyncExternalStore(c.subscribeUi, c.getAnnouncement, c.getAnnouncement);
}

/** The time now, updated every `ms` (for the ticking waits). */
export function useNow(now: () => number, ms = 1000): number {
  const [t, setT] = useState(now);
  useEffect(() => {
    const id = setInterval(() => setT(now()), ms);
    return () => clearInterval(id);
  }, [now, ms]);
  return t;
}

/** "14:05" for an RFC 3339 time; '' if unreadable. */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
