import type { Db } from "@sloughgpt/db";
import type { Logger } from "@sloughgpt/runtime";

export type AuditOutcome = "success" | "denied" | "failure";

/** One audited event: who did what to which target, when, from where, and how it ended. */
export interface AuditEntry {
  /** e.g. `keys.create`, `auth.unauthenticated`, `auth.forbidden`, `limits.rate`, `limits.budget`. */
  action: string;
  outcome: AuditOutcome;
  /** Key id or token subject; the claimed key id for a refused key; "" when unknown. */
  actor?: string;
  team?: string;
  /** What the action was on: a key id, a team, a model, or `METHOD /route` for refusals. */
  target?: string;
  /** HTTP status answered, when the event is a response. */
  status?: number;
  /** Machine-readable reason, e.g. `revoked_api_key`, `rate_limit_exceeded`. */
  reason?: string;
  sourceIp?: string;
  requestId?: string;
  /** Extra non-secret facts (limits, counts). Never keys, prompts or tokens. */
  details?: Record<string, unknown>;
  at?: Date;
}

export interface AuditRecord {
  id: string;
  at: Date;
  actor: string;
  team: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  status: number | null;
  reason: string;
  sourceIp: string;
  requestId: string;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  from?: Date | undefined;
  to?: Date | undefined;
  /** Exact action, or a prefix ending in `.*` (`auth.*`). */
  action?: string | undefined;
  limit: number;
}

/** What the limiter and budget code (and admin routes) call. */
export interface AuditSink {
  /** Queues the entry; it is written within `flushMs`. Never throws, never waits. */
  record(entry: AuditEntry): void;
}

const COLUMNS = 11;

function row(e: AuditEntry): unknown[] {
  return [
    e.at ?? new Date(),
    e.actor ?? "",
    e.team ?? "",
    e.action,
    e.target ?? "",
    e.outcome,
    e.status ?? null,
    e.reason ?? "",
    e.sourceIp ?? "",
    e.requestId ?? "",
    JSON.stringify(e.details ?? {}),
  ];
}

function recordOf(r: Record<string, unknown>): AuditRecord {
  return {
    id: String(r.id),
    at: new Date(r.at as string | Date),
    actor: r.actor as string,
    team: r.team as string,
    action: r.action as string,
    target: r.target as string,
    outcome: r.outcome as AuditOutcome,
    status: r.status === null ? null : Number(r.status),
    reason: r.reason as string,
    sourceIp: r.source_ip as string,
    requestId: r.request_id as string,
    details: (typeof r.details === "string" ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
  };
}

/**
 * The audit log in `gateway.audit_log`. Entries are buffered and written in batches, so a flood
 * of refused requests costs one insert per batch, not one per request. The buffer is bounded:
 * past `maxPending` the oldest entries are dropped and counted in the log.
 */
export class AuditLog implements AuditSink {
  private pending: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;
  private closed = false;
  private dropped = 0;
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxPending: number;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    opts: { flushMs?: number; batchSize?: number; maxPending?: number } = {},
  ) {
    this.flushMs = opts.flushMs ?? 250;
    this.batchSize = opts.batchSize ?? 200;
    this.maxPending = opts.maxPending ?? 10_000;
  }

  record(entry: AuditEntry): void {
    this.pending.push({ ...entry, at: entry.at ?? new Date() });
    if (this.pending.length > this.maxPending) {
      this.pending.shift();
      this.dropped++;
    }
    this.schedule();
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeAll());
    return this.writing;
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const prefix = q.action?.endsWith(".*") ? `${q.action.slice(0, -2).replace(/[\\%_]/g, "\\$&")}.%` : null;
    const { rows } = await this.db.query(
      `SELECT * FROM gateway.audit_log
       WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
         AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR action LIKE $4)
       ORDER BY at DESC, id DESC LIMIT $5`,
      [q.from ?? null, q.to ?? null, prefix ? null : (q.action ?? null), prefix, q.limit],
    );
    return rows.map(recordOf);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.pending.length > 0) {
      this.logger.error({ lost: this.pending.length }, "Closed the audit log with entries unwritten");
    }
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // writeAll catches its own errors, so this never rejects.
      void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  private async writeAll(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.error({ dropped: this.dropped }, "Dropped audit entries: the buffer was full");
      this.dropped = 0;
    }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.batchSize);
      try {
        await this.insert(batch);
        if (this.failing) this.logger.info("Resumed writing the audit log");
        this.failing = false;
      } catch (err) {
        this.pending.unshift(...batch.slice(0, this.maxPending - this.pending.length));
        if (!this.failing) this.logger.error({ err }, "Failed to write the audit log; retrying");
        this.failing = true;
        this.schedule();
        return;
      }
    }
  }

  private async insert(batch: AuditEntry[]): Promise<void> {
    const values = batch
      .map((_, i) => {
        const p = Array.from({ length: COLUMNS }, (__, c) => `$${i * COLUMNS + c + 1}`);
        p[COLUMNS - 1] = `${p[COLUMNS - 1]}::jsonb`;
        return `(${p.join(", ")})`;
      })
      .join(", ");
    await this.db.query(
      `INSERT INTO gateway.audit_log
         (at, actor, team, action, target, outcome, status, reason, source_ip, request_id, details)
       VALUES ${values}`,
      batch.flatMap(row),
    );
  }
}
