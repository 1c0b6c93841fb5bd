import { apiError } from './errors';

/**
 * Bounds the packet work of one endpoint: at most `concurrency` generations run at once (they
 * interleave batch by batch, since each yields to the event loop between batches), at most
 * `maxQueued` wait; beyond that a request is refused at once with 503 + Retry-After. A
 * waiting or running job whose request is aborted (the client went away) leaves its slot.
 * One scheduler per endpoint, made by `createScheduler`: no module-level state.
 */
export interface SchedulerOptions {
  /** Generations running at once (>= 1). */
  concurrency: number;
  /** Requests waiting for a slot (>= 0); one more is answered 503. */
  maxQueued: number;
}

export interface SchedulerStats {
  running: number;
  queued: number;
  /** Jobs finished (with or without error) since start. */
  completed: number;
  /** Jobs stopped because their request was aborted, waiting or running. */
  aborted: number;
  /** Requests refused with 503 because the queue was full. */
  rejected: number;
  /** Sampler batches generated since start (counted by `batchDone`). */
  batches: number;
}

export interface Scheduler {
  /**
   * Run `job` when a slot is free. Rejects with a 503 HTTPException when the queue is full,
   * and with the signal's reason when `signal` aborts while waiting.
   */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Count one generated batch (the sampler's `afterBatch` calls it). */
  batchDone(): void;
  stats(): SchedulerStats;
}

interface Waiter {
  /** The slot is this waiter's now (`running` already counts it). */
  grant: () => void;
  cancel: (reason: unknown) => void;
}

/** Seconds a refused client should wait: the queue ahead at the mean job time, 1..60. */
function retryAfter(ahead: number, concurrency: number, meanJobMs: number): number {
  const s = Math.ceil((ahead / concurrency) * (meanJobMs / 1000));
  return Math.min(60, Math.max(1, s));
}

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const maxQueued = Math.max(0, Math.floor(opts.maxQueued));
  const waiting: Waiter[] = [];
  let running = 0;
  let completed = 0;
  let aborted = 0;
  let rejected = 0;
  let batches = 0;
  let meanJobMs = 1000;

  /** Hand a freed slot to the first waiter, or free it. */
  const release = () => {
    const w = waiting.shift();
    if (w) w.grant();
    else running--;
  };

  /** A slot for this request, or 503 / the abort reason. */
  const acquire = (signal: AbortSignal | undefined): Promise<void> => {
    if (signal?.aborted) {
      aborted++;
      return Promise.reject(signal.reason);
    }
    if (running < concurrency) {
      running++;
      return Promise.resolve();
    }
    if (waiting.length >= maxQueued) {
      rejected++;
      const seconds = retryAfter(running + waiting.length, concurrency, meanJobMs);
      return Promise.reject(
        apiError(
          503,
          'overloaded',
          `this endpoint is generating ${running} packet(s) with ${waiting.length} waiting (its limit); retry after ${seconds} s`,
          { headers: { 'retry-after': String(seconds) } },
        ),
      );
    }
    return new Promise<void>((grant, cancel) => {
      const onAbort = () => {
        const i = waiting.indexOf(waiter);
        if (i >= 0) waiting.splice(i, 1);
        aborted++;
        cancel(signal?.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          grant();
        },
        cancel,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
    });
  };

  /**
   * The job runs in the caller's own async context (in workerd: its own request's I/O
   * context, which its timers and promises belong to), never started from another request's.
   */
  const run = async <T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    // workerd cancels a request as hung when nothing of its own is pending, and a slot is
    // granted from another request: a timer of this request's own keeps it alive meanwhile.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await acquire(signal);
    } finally {
      clearInterval(keepAlive);
    }
    let released = false;
    const releaseOnce = () => {
      if (released) return;
      released = true;
      release();
    };
    // A job whose request is aborted gives its slot back at once. The job itself stops at its
    // next batch: in Node the sampler sees the same signal; in workerd the request's context is
    // cancelled, so its next batch (after a timer) never runs, and nor does this `finally`.
    const onAbort = () => {
      aborted++;
      releaseOnce();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const t0 = Date.now();
    try {
      return await job();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      completed++;
      meanJobMs = 0.8 * meanJobMs + 0.2 * (Date.now() - t0);
      releaseOnce();
    }
  };

  return {
    run,
    batchDone: () => {
      batches++;
    },
    stats: () => ({ running, queued: waiting.length, completed, aborted, rejected, batches }),
  };
}

/**
 * Let other tasks (e.g. /healthz, other requests' batches) run: a macrotask turn that lets
 * the runtime read its sockets first.
 *
 * Node: `setImmediate` (the check phase, which always follows the poll phase), never
 * `setTimeout(0)`: with two generations yielding by `setTimeout(0)`, each one's timer has
 * expired by the time the other's batch ends, and Node 20 ran them batch after batch in one
 * timers phase without polling its sockets (measured: a `setImmediate` counter did not move
 * over 30 batches; `/healthz` waited ~1 s). An immediate queued during the check phase runs
 * only in the next loop iteration, after the next poll.
 * workerd (no `setImmediate` without nodejs_compat): `setTimeout(0)`, a separate task there.
 */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (cb: () => void) => unknown }).setImmediate;
  return new Promise((resolve) =>
    immediate ? immediate(() => resolve()) : setTimeout(resolve, 0),
  );
}
