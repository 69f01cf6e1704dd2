// A reducer's state made observable (for React's useSyncExternalStore):
// the widget's ChatStore and the console's ConsoleStore are both this.

type Listener = () => void;

export class ReducerStore<S, A> {
  private state: S;
  private readonly reduce: (state: S, action: A) => S;
  private listeners = new Set<Listener>();

  constructor(reduce: (state: S, action: A) => S, state: S) {
    this.reduce = reduce;
    this.state = state;
  }

  getState = (): S => this.state;

  dispatch = (action: A): void => {
    const next = this.reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const l of Array.from(this.listeners)) l();
  };

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
}
