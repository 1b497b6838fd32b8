/**
 * Waits for every promise in `work` to settle, or `ms`, whichever comes first (a close() that
 * lets in-flight work finish without hanging on it). The timer never keeps the process alive.
 */
export async function settleWithin(work: Iterable<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([Promise.allSettled([...work]), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
