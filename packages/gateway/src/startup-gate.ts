// The gateway listens before it is ready (the build, DynamoDB, the functions' pools): a client
// that connects during start-up is held until then, and answered 503 when start-up fails or takes
// longer than holdMs. Never left hanging.
export interface StartupGate {
  /** Runs `proceed` once ready, or `refuse` if start-up fails or the hold runs out. */
  hold(proceed: () => void, refuse: (why: string) => void): void;
  open(): void;
  fail(why: string): void;
  readonly state: 'starting' | 'ready' | 'failed';
}

export const createStartupGate = (holdMs: number): StartupGate => {
  let state: StartupGate['state'] = 'starting';
  let failure = '';
  const waiting = new Set<{ proceed: () => void; refuse: (why: string) => void; timer: NodeJS.Timeout }>();
  return {
    get state() {
      return state;
    },
    hold(proceed, refuse) {
      if (state === 'ready') return proceed();
      if (state === 'failed') return refuse(failure);
      const entry = {
        proceed,
        refuse,
        timer: setTimeout(() => {
          waiting.delete(entry);
          refuse(`the gateway is still starting after ${holdMs} ms`);
        }, holdMs),
      };
      waiting.add(entry);
    },
    open() {
      state = 'ready';
      for (const entry of waiting) {
        clearTimeout(entry.timer);
        entry.proceed();
      }
      waiting.clear();
    },
    fail(why) {
      state = 'failed';
      failure = why;
      for (const entry of waiting) {
        clearTimeout(entry.timer);
        entry.refuse(why);
      }
      waiting.clear();
    },
  };
};
