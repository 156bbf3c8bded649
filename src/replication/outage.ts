/**
 * Tells a replica outage within seconds, whatever litestream logs: while an upload is
 * overdue (or a lease renewal failed), the replica is probed from Node once per sync
 * interval, and the first failure seen — a probe's, litestream's own error line, or the
 * lease's — is kept as the outage's cause until the replica answers again.
 *
 * @packageDocumentation
 */
import { LitestreamAbortError } from '../errors.js';
import type { ReplicaFailureKind } from '../replica/failure-cause.js';
import type { ProbeOutcome } from '../replica/probe.js';

/** The failure that makes the replica unreachable now (see `ReplicationStatus.lastError`). */
export interface ReplicaFailure {
  /** What failed: `refused`, `timeout`, `dns`, `credentials`, `server-error`, … */
  readonly kind: ReplicaFailureKind;
  /** What failed, in words, with the error seen (redacted). */
  readonly message: string;
  /** When it was first seen. */
  readonly at: Date;
  /** The database whose replica failed, when the failure was about one. */
  readonly database: string | undefined;
  /**
   * What saw it first: litestream's log, the library's own probe of the replica (one
   * listing request), or a request for the replica lease.
   */
  readonly source: 'litestream' | 'probe' | 'lease';
}

/** Failures that do not say what failed: a later one that does names the outage instead. */
const VAGUE: ReadonlySet<ReplicaFailureKind> = new Set(['reset', 'other']);

/** An upload in flight: since when (ms since the epoch). */
export interface PendingUpload {
  readonly db: string;
  readonly since: number;
}

/** What {@link ReplicaOutageWatch} looks at and reports to. Clock and probe injectable. */
export interface OutageWatchDeps {
  readonly databases: readonly string[];
  readonly syncIntervalMs: number;
  /** The uploads in flight now. */
  pending(): readonly PendingUpload[];
  /**
   * The databases whose last error says their replica failed: probed until it answers (an
   * idle database's error is otherwise only cleared by its next write).
   */
  suspect(): readonly string[];
  /** A request for the replica lease failed lately (it is late or paused): probe though nothing uploads. */
  leaseTrouble(): boolean;
  /** One request to `db`'s replica; undefined when it cannot be probed (a file replica, no credentials). */
  probe(db: string, options: { timeoutMs: number; signal: AbortSignal }): Promise<ProbeOutcome> | undefined;
  /** A probe failed (each one counts as a failed sync). */
  onProbeFailed(db: string, failure: ReplicaFailure): void;
  /** A probe of `db`'s replica got an answer: errors seen before it are over. */
  onAnswered(db: string): void;
  /**
   * The outage began (`failure`, `previous` undefined), was named better (both set), or
   * ended (`failure` undefined; `previous` was its cause).
   */
  onChange(failure: ReplicaFailure | undefined, previous: ReplicaFailure | undefined): void;
  readonly now?: () => number;
}

/**
 * Probe timings from the sync interval `I`: a probe once an upload has been in flight for
 * `max(1 s, I/2)` (a healthy one takes milliseconds), at most one per `max(1 s, I)`, each
 * given `max(2.5 s, I)`: a failure shows within `2 I` (at least 5 s) of the first failed
 * request, and a healthy replica is never probed.
 */
export function probeTimings(syncIntervalMs: number): { overdueMs: number; everyMs: number; timeoutMs: number } {
  return {
    overdueMs: Math.max(1_000, syncIntervalMs / 2),
    everyMs: Math.max(1_000, syncIntervalMs),
    timeoutMs: Math.max(2_500, syncIntervalMs),
  };
}

/** See the module's description. {@link tick} is called by the owner's timer (every 250 ms or so). */
export class ReplicaOutageWatch {
  readonly #deps: OutageWatchDeps;
  readonly #now: () => number;
  readonly #timings: ReturnType<typeof probeTimings>;
  readonly #stopped = new AbortController();
  #failure: ReplicaFailure | undefined;
  #probing = false;
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  /** Probes sent and how long the slowest successful one took, for the record. */
  #probes = 0;

  constructor(deps: OutageWatchDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#timings = probeTimings(deps.syncIntervalMs);
  }

  /** The outage's cause: the first failure seen since the replica last answered. */
  get failure(): ReplicaFailure | undefined {
    return this.#failure;
  }

  /** How many probes were sent. */
  get probes(): number {
    return this.#probes;
  }

  /**
   * A failure seen (a litestream error line, a lease request, a probe): the first one is the
   * cause — except that a cut connection, or an error of no known kind, gives way to the
   * first failure that names what failed (a server going down cuts the connections open
   * before it refuses new ones). The outage keeps the time it began.
   */
  saw(failure: Omit<ReplicaFailure, 'at'>): void {
    if (this.#stopped.signal.aborted) return;
    const previous = this.#failure;
    if (previous && !(VAGUE.has(previous.kind) && !VAGUE.has(failure.kind))) return;
    const at = previous?.at ?? new Date(this.#now());
    this.#failure = Object.freeze({ ...failure, at });
    this.#deps.onChange(this.#failure, previous);
  }

  /** The replica answered: a sync reached it, or a probe did. */
  cleared(): void {
    const previous = this.#failure;
    if (!previous) return;
    this.#failure = undefined;
    this.#deps.onChange(undefined, previous);
  }

  /** Probes when due; returns at once (the probe's outcome is reported when it ends). */
  tick(): void {
    if (this.#probing || this.#stopped.signal.aborted) return;
    const now = this.#now();
    if (now - this.#lastProbeAt < this.#timings.everyMs) return;
    const targets = this.#targets(now);
    if (targets.length === 0) return;
    this.#lastProbeAt = now;
    this.#probing = true;
    void this.#probe(targets).finally(() => {
      this.#probing = false;
    });
  }

  /** Gives up the probes in flight; nothing is reported after this. */
  stop(): void {
    this.#stopped.abort();
  }

  /**
   * The databases to probe now: those with an overdue upload or a replica error, or all of
   * them while the lease has trouble or an outage is not over.
   */
  #targets(now: number): string[] {
    const overdue = this.#deps
      .pending()
      .filter((upload) => now - upload.since >= this.#timings.overdueMs)
      .map((upload) => upload.db);
    const targets = new Set([...overdue, ...this.#deps.suspect()]);
    if (targets.size > 0) return [...targets];
    // During an outage, until the replica answers: an idle database would not say when it is over.
    return this.#deps.leaseTrouble() || this.#failure ? [...this.#deps.databases] : [];
  }

  async #probe(databases: readonly string[]): Promise<void> {
    const signal = this.#stopped.signal;
    const outcomes = await Promise.all(
      databases.map(async (db) => {
        const probe = this.#deps.probe(db, { timeoutMs: this.#timings.timeoutMs, signal });
        if (!probe) return undefined;
        this.#probes++;
        try {
          return { db, outcome: await probe };
        } catch (error) {
          if (error instanceof LitestreamAbortError) return undefined;
          throw error;
        }
      }),
    );
    if (signal.aborted) return;
    const answered = outcomes.filter((entry) => entry !== undefined);
    if (answered.length === 0) return;
    // Still a question by the time the answer came? (The upload may have landed meanwhile.)
    const stillDue = new Set(this.#targets(Number.POSITIVE_INFINITY));
    let failed = false;
    for (const { db, outcome } of answered) {
      if (outcome.ok) {
        this.#deps.onAnswered(db);
        continue;
      }
      if (!stillDue.has(db)) continue;
      failed = true;
      const failure: ReplicaFailure = Object.freeze({
        kind: outcome.kind,
        message: outcome.message,
        at: new Date(this.#now()),
        database: db,
        source: 'probe',
      });
      this.saw(failure);
      this.#deps.onProbeFailed(db, failure);
    }
    if (!failed && answered.every((entry) => entry.outcome.ok)) this.cleared();
  }
}
