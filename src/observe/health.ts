// Liveness and readiness of a worker (docs/operations.md, "Probes").
//
// Live: the loop makes progress, or has nothing to do. It is stuck when records are pending (a polled batch not
// delivered yet, or consumer lag) and nothing was delivered for `stuckAfterMs`: a restart is what helps then.
// Ready: start-up is done (config, transforms, schemas registered, transport open) and every readiness check
// holds (Kafka: the group was joined and an assignment received).
import type { SourceRecord } from "../decode/change-event.js";
import type { WorkerObserver } from "../worker/observer.js";

export interface ProbeResult {
  ok: boolean;
  /** why, for people reading the probe's body */
  detail: Record<string, unknown>;
}

export interface HealthOptions {
  /** no progress for this long while records are pending: not live */
  stuckAfterMs: number;
  now?: () => number;
}

export class Health {
  private readonly now: () => number;
  private lastProgressAt: number;
  private inFlight = 0;
  private bootstrapped = false;
  private stopping = false;
  private readonly pendingSources: (() => number)[] = [];
  private readonly readyChecks = new Map<string, () => boolean>();

  constructor(private readonly options: HealthOptions) {
    this.now = options.now ?? Date.now;
    this.lastProgressAt = this.now();
  }

  /** Start-up done: the worker may become ready. */
  markBootstrapped(): void {
    this.bootstrapped = true;
    this.progress();
  }

  /** Stopping (SIGTERM): no longer ready, so that no new work is routed here; liveness unchanged. */
  markStopping(): void {
    this.stopping = true;
  }

  /** A named condition readiness also needs (e.g. "assigned"). */
  addReadyCheck(name: string, check: () => boolean): void {
    this.readyChecks.set(name, check);
  }

  /** Records waiting outside the loop (e.g. consumer lag), counted as pending. */
  addPendingSource(pending: () => number): void {
    this.pendingSources.push(pending);
  }

  /** Work was done (a batch delivered, records counted). */
  progress(): void {
    this.lastProgressAt = this.now();
  }

  get pending(): number {
    return this.inFlight + this.pendingSources.reduce((sum, source) => sum + source(), 0);
  }

  liveness(): ProbeResult {
    const idleMs = this.now() - this.lastProgressAt;
    const pending = this.pending;
    const stuck = pending > 0 && idleMs > this.options.stuckAfterMs;
    return {
      ok: !stuck,
      detail: {
        pending,
        secondsSinceProgress: Math.round(idleMs / 1000),
        stuckAfterSeconds: this.options.stuckAfterMs / 1000,
      },
    };
  }

  readiness(): ProbeResult {
    const checks: Record<string, boolean> = { bootstrapped: this.bootstrapped, stopping: this.stopping };
    for (const [name, check] of this.readyChecks) checks[name] = check();
    const ok = this.bootstrapped && !this.stopping && [...this.readyChecks.values()].every((c) => c());
    return { ok, detail: checks };
  }

  /** The worker loop's hooks (worker/observer.ts): a polled batch is pending until delivered. */
  observer(): WorkerObserver {
    return {
      batchPolled: (records: readonly SourceRecord[]) => {
        this.inFlight = records.length;
        this.progress();
      },
      batchDelivered: () => {
        this.inFlight = 0;
        this.progress();
      },
    };
  }
}
