import { randomUUID } from "node:crypto";
import type { Db, Migration } from "@sloughgpt/db";
import { AlreadyExistsError, NotFoundError } from "@sloughgpt/runtime";
import type { TrainingJob } from "../api/types.js";

export const migrations: Migration[] = [
  {
    id: "0001_jobs",
    sql: `CREATE TABLE training.jobs (
      namespace text NOT NULL,
      name text NOT NULL,
      uid text NOT NULL UNIQUE,
      team text NOT NULL,
      phase text NOT NULL,
      manifest jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (namespace, name)
    );`,
  },
];

export interface JobRecord {
  namespace: string;
  name: string;
  uid: string;
  team: string;
  phase: string;
  manifest: TrainingJob;
  createdAt: Date;
}

interface Row extends Record<string, unknown> {
  namespace: string;
  name: string;
  uid: string;
  team: string;
  phase: string;
  manifest: TrainingJob | string;
  created_at: Date;
}

const toRecord = (r: Row): JobRecord => ({
  namespace: r.namespace,
  name: r.name,
  uid: r.uid,
  team: r.team,
  phase: r.phase,
  manifest: typeof r.manifest === "string" ? JSON.parse(r.manifest) : r.manifest,
  createdAt: new Date(r.created_at),
});

/** Accepted jobs. Scheduling them onto a cluster is the controller's job, not this store's. */
export class JobStore {
  constructor(private readonly db: Db) {}

  async create(job: TrainingJob, namespace: string, team: string): Promise<JobRecord> {
    const { rows } = await this.db.query<Row>(
      `INSERT INTO training.jobs (namespace, name, uid, team, phase, manifest) VALUES ($1, $2, $3, $4, 'Queued', $5)
       ON CONFLICT DO NOTHING RETURNING *`,
      [namespace, job.metadata.name, randomUUID(), team, JSON.stringify(job)],
    );
    const row = rows[0];
    if (!row) throw new AlreadyExistsError(`TrainingJob ${namespace}/${job.metadata.name} already exists`);
    return toRecord(row);
  }

  /** A job of another team is reported as not found, never as forbidden. */
  async get(namespace: string, name: string, team: string): Promise<JobRecord> {
    const { rows } = await this.db.query<Row>(
      "SELECT * FROM training.jobs WHERE namespace = $1 AND name = $2 AND team = $3",
      [namespace, name, team],
    );
    const row = rows[0];
    if (!row)
      throw new NotFoundError(`TrainingJob ${namespace}/${name} not found`, { reason: "job_not_found" });
    return toRecord(row);
  }

  /** Deletes the record; a job of another team is not found. */
  async delete(namespace: string, name: string, team: string): Promise<void> {
    const { rows } = await this.db.query<Row>(
      "DELETE FROM training.jobs WHERE namespace = $1 AND name = $2 AND team = $3 RETURNING *",
      [namespace, name, team],
    );
    if (!rows[0])
      throw new NotFoundError(`TrainingJob ${namespace}/${name} not found`, { reason: "job_not_found" });
  }

  /** Records the phase and, when given, the manifest (suspend and resume change spec.suspend). */
  async update(record: JobRecord, phase: string, manifest = record.manifest): Promise<JobRecord> {
    const { rows } = await this.db.query<Row>(
      "UPDATE training.jobs SET phase = $3, manifest = $4 WHERE namespace = $1 AND name = $2 RETURNING *",
      [record.namespace, record.name, phase, JSON.stringify(manifest)],
    );
    return toRecord(rows[0] ?? ({ ...record, created_at: record.createdAt } as unknown as Row));
  }

  async list(team: string, namespace?: string): Promise<JobRecord[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM training.jobs WHERE team = $1 AND ($2::text IS NULL OR namespace = $2)
       ORDER BY created_at DESC, name LIMIT 1000`,
      [team, namespace ?? null],
    );
    return rows.map(toRecord);
  }
}
