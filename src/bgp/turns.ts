// Work over a fixed list spread over turns of the event loop, so that a full table never holds
// keepalives and other sessions back: `perTurn` items a turn for as long as `current()` says
// the work is still wanted (a newer change, a removed peer or a stopped speaker ends it).
export interface TurnsWork<T> {
  current(): boolean;
  each(item: T): void;
  /** After each turn's share (e.g. send what it changed). */
  afterTurn?(): void;
  /** Once every item is done. */
  done(): void;
}

export function runInTurns<T>(items: readonly T[], perTurn: number, w: TurnsWork<T>): void {
  let next = 0;
  const step = (): void => {
    if (!w.current()) return;
    const end = Math.min(items.length, next + perTurn);
    for (; next < end; next++) w.each(items[next]!);
    w.afterTurn?.();
    if (next < items.length) setImmediate(step);
    else w.done();
  };
  step();
}
