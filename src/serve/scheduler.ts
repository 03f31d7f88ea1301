// Admission for one model in memory: at most `maxConcurrency` requests run at a time, the rest wait
// in a bounded first-in-first-out queue, and beyond it a request is refused at once (429 with a
// Retry-After estimated from recent service times). A waiting request whose client went away
// leaves the queue; a running one frees its slot when its generation stops. After close() new
// requests are refused (503) while the admitted ones finish.
import { ApiError } from './api-error.js';

export interface SchedulerLimits {
  readonly maxConcurrency: number;
  readonly maxQueue: number;
}

interface Waiter {
  readonly admit: (release: Release) => void;
  readonly reject: (reason: unknown) => void;
}

/** Frees the slot; calling it again does nothing. */
export type Release = () => void;

export class RequestScheduler {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private closed = false;
  /** Mean time a request held its slot, updated as an exponential moving average. */
  private meanServiceMs = 1000;

  constructor(readonly limits: SchedulerLimits) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; refuses when the queue is full or the server is closing, or when `signal` aborts while waiting. */
  async acquire(signal: AbortSignal): Promise<Release> {
    if (this.closed) throw new ApiError(503, 'service_unavailable', 'the server is shutting down', null, 'shutting_down');
    signal.throwIfAborted();
    if (this.running < this.limits.maxConcurrency && this.waiting.length === 0) return this.occupy();
    if (this.waiting.length >= this.limits.maxQueue) {
      const seconds = Math.max(1, Math.ceil((this.meanServiceMs * (this.waiting.length + 1)) / this.limits.maxConcurrency / 1000));
      throw new ApiError(
        429,
        'rate_limit_error',
        `the server is busy: ${this.running} running, ${this.waiting.length} waiting (--max-queue ${this.limits.maxQueue}); retry after ${seconds} s`,
        null,
        'queue_full',
        { 'retry-after': String(seconds) },
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        admit: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Refuses new requests; those waiting are refused too when `dropWaiting`. */
  close(dropWaiting: boolean): void {
    this.closed = true;
    if (!dropWaiting) return;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new ApiError(503, 'service_unavailable', 'the server is shutting down', null, 'shutting_down'));
  }

  private occupy(): Release {
    this.running++;
    const start = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.meanServiceMs = 0.8 * this.meanServiceMs + 0.2 * (performance.now() - start);
      // The slot passes to the oldest waiter at once, so no newcomer can take it in between.
      const next = this.running < this.limits.maxConcurrency ? this.waiting.shift() : undefined;
      next?.admit(this.occupy());
    };
  }
}
