/**
 * The items of `source` until `signal` aborts; then the iteration throws an AbortError at once, even while a read is
 * pending. A read from a FIFO or a quiet pipe sits in the thread pool where nothing can cancel it: waiting for it
 * would let a stop hang until the writer writes.
 *
 * Each read waits on its own promise, with an abort listener added for that read and removed when it settles. Racing
 * every read against one long-lived "stopped" promise (`Promise.race([it.next(), stopped])`) would add a reaction to
 * that promise per read which is never released while it stays pending, and each reaction keeps the settled read's
 * result: every buffer ever read would stay in memory until the end of the input.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal?: AbortSignal): AsyncGenerator<T> {
  if (!signal) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  try {
    while (true) {
      const r = await nextOrStop(it, signal);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // Not awaited: closing a stream waits for its pending read.
    it.return?.()?.catch(() => undefined);
  }
}

function nextOrStop<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new DOMException('The read was stopped', 'AbortError'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    it.next().then(
      (r) => {
        done();
        resolve(r);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}

/**
 * Waits `ms`, or less when `signal` aborts; never rejects. The abort listener goes with the wait: a daemon that
 * sleeps between retries on one long-lived signal would otherwise gather a listener per sleep.
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
