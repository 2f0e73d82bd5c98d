/**
 * The items of `source` until `signal` aborts; then the iteration throws an AbortError at once, even while a read is
 * pending. A read from a FIFO or a quiet pipe sits in the thread pool where nothing can cancel it: waiting for it
 * would let a stop hang until the writer writes.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal?: AbortSignal): AsyncGenerator<T> {
  if (!signal) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new DOMException('The read was stopped', 'AbortError'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => undefined);
  try {
    while (true) {
      const r = await Promise.race([it.next(), stopped]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    // Not awaited: closing a stream waits for its pending read.
    it.return?.()?.catch(() => undefined);
  }
}
