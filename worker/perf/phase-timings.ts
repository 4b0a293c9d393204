// Where a request's time goes, phase by phase, summed since the last reset: the benchmark's breakdown of the paid path
// against the unpaid one (scripts/bench-worker.ts). Only on when the config says `debug.timings` (GET
// /v1/debug/timings); off, every call is a no-op on a shared object, so production pays nothing for it.

/** Time per phase of a route since the last reset. */
export interface PhaseTotals {
  /** Requests that finished (answered 200) on this route. */
  requests: number;
  /** Phase -> summed wall-clock milliseconds and how many requests passed through it. */
  phases: Record<string, { ms: number; count: number }>;
}

/** What the writer thread spent on its group transactions (per group, summed). */
export interface WriterTotals {
  groups: number;
  /** Ops the groups carried (3 per paid request). */
  ops: number;
  /** Main thread: encoding a group for the writer. */
  encodeMs: number;
  /** Writer thread: JSON.parse and decoding of the ops. */
  decodeMs: number;
  /** Writer thread: the SQL statements inside the transaction (no commit). */
  statementsMs: number;
  /** Writer thread: EIP-712 digests of the receipts (keccak). */
  hashMs: number;
  /** Writer thread: the device's ECDSA signatures of the receipts. */
  signMs: number;
  /** Writer thread: COMMIT, i.e. the WAL append and, with durability "full", its fsync. */
  commitMs: number;
  /** Main thread: handing a group to the writer until the answer is back, minus the writer's own time (thread hops). */
  hopMs: number;
}

export interface TimingsSnapshot {
  routes: Record<string, PhaseTotals>;
  writer: WriterTotals;
  /** CPU (user + system) since the last reset, µs: the event loop's thread and the writer thread. */
  cpu: { mainUs: number; writerUs: number };
  /** Events counted since the last reset (e.g. ECDSA recoveries by kind). */
  events: Record<string, number>;
}

/** Records laps of one request: each `lap(phase)` adds the time since the previous lap (or the start) to `phase`. */
export interface Stopwatch {
  lap(phase: string): void;
  /** The request was answered: it counts toward the route's requests. */
  done(): void;
}

const NOOP: Stopwatch = { lap() {}, done() {} };

const emptyWriter = (): WriterTotals => ({ groups: 0, ops: 0, encodeMs: 0, decodeMs: 0, statementsMs: 0, hashMs: 0, signMs: 0, commitMs: 0, hopMs: 0 });

export class PhaseTimings {
  #routes = new Map<string, PhaseTotals>();
  #writer = emptyWriter();
  #events: Record<string, number> = {};
  #mainCpuBase = mainCpuUs();
  /** The writer thread's CPU as of its latest group, and at the last reset. */
  #writerCpu = 0;
  #writerCpuBase: number | undefined;

  /** A stopwatch for one request on `route`, started now. */
  start(route: string): Stopwatch {
    let totals = this.#routes.get(route);
    if (!totals) this.#routes.set(route, (totals = { requests: 0, phases: {} }));
    const t = totals;
    let last = performance.now();
    return {
      lap(phase) {
        const now = performance.now();
        const p = (t.phases[phase] ??= { ms: 0, count: 0 });
        p.ms += now - last;
        p.count++;
        last = now;
      },
      done() {
        t.requests++;
      },
    };
  }

  /** Adds one group transaction's times (from the committer). */
  addGroup(g: Omit<WriterTotals, "groups">, writerCpuUs: number) {
    // Before any group the writer's baseline is unknown; its first group after a reset sets it (idle time is ~0).
    this.#writerCpuBase ??= this.#writerCpu || writerCpuUs;
    this.#writerCpu = writerCpuUs;
    const w = this.#writer;
    w.groups++;
    w.ops += g.ops;
    w.encodeMs += g.encodeMs;
    w.decodeMs += g.decodeMs;
    w.statementsMs += g.statementsMs;
    w.hashMs += g.hashMs;
    w.signMs += g.signMs;
    w.commitMs += g.commitMs;
    w.hopMs += g.hopMs;
  }

  /** Counts one `name` event. */
  count(name: string) {
    this.#events[name] = (this.#events[name] ?? 0) + 1;
  }

  snapshot(): TimingsSnapshot {
    const routes: Record<string, PhaseTotals> = {};
    for (const [name, t] of this.#routes) routes[name] = { requests: t.requests, phases: structuredClone(t.phases) };
    return { routes, writer: { ...this.#writer }, cpu: { mainUs: mainCpuUs() - this.#mainCpuBase, writerUs: this.#writerCpu - (this.#writerCpuBase ?? this.#writerCpu) }, events: { ...this.#events } };
  }

  reset() {
    this.#routes.clear();
    this.#writer = emptyWriter();
    this.#events = {};
    this.#mainCpuBase = mainCpuUs();
    this.#writerCpuBase = this.#writerCpu || undefined;
  }
}

function mainCpuUs(): number {
  const c = process.threadCpuUsage();
  return c.user + c.system;
}

/** A stopwatch on `timings`, or the shared no-op when timings are off. */
export function stopwatch(timings: PhaseTimings | undefined, route: string): Stopwatch {
  return timings ? timings.start(route) : NOOP;
}
