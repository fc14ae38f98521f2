import { randomUUID } from "node:crypto";
import type { Db } from "@sloughgpt/db";
import { NotFoundError } from "@sloughgpt/runtime";

export type JobState = "running" | "succeeded" | "failed";

export interface JobStatus {
  id: string;
  team: string;
  collection: string;
  total: number;
  done: number;
  failed: number;
  state: JobState;
  /** Up to 20 failures: document id and error. */
  errors: { documentId: string; error: string }[];
  createdAt: Date;
}

/** A job is over when every document has finished; it failed when any document did. Pure. */
export function jobState(total: number, done: number, failed: number): JobState {
  if (done + failed < total) return "running";
  return failed > 0 ? "failed" : "succeeded";
}

/** Ingestion jobs and their per-document outcomes, in rag's schema. */
export class JobStore {
  constructor(private readonly db: Db) {}

  async create(job: { team: string; collection: string; total: number }): Promise<string> {
    const id = `job_${randomUUID()}`;
    await this.db.query("INSERT INTO rag.jobs (id, team, collection, total) VALUES ($1, $2, $3, $4)", [
      id,
      job.team,
      job.collection,
      job.total,
    ]);
    return id;
  }

  /** Records a document's outcome once; a redelivered message finds its row there and changes nothing. */
  async finish(jobId: string, seq: number, documentId: string, error?: string): Promise<void> {
    await this.db.query(
      `INSERT INTO rag.job_documents (job_id, seq, document_id, failed, error) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (job_id, seq) DO NOTHING`,
      [jobId, seq, documentId, error !== undefined, error ?? null],
    );
  }

  /** A job of `team` (another team's job is not found, as a missing one). */
  async get(team: string, id: string): Promise<JobStatus> {
    const { rows } = await this.db.query<{
      collection: string;
      total: number;
      created_at: Date;
      done: number;
      failed: number;
    }>(
      `SELECT j.collection, j.total, j.created_at,
              (SELECT count(*) FROM rag.job_documents d WHERE d.job_id = j.id AND NOT d.failed)::int AS done,
              (SELECT count(*) FROM rag.job_documents d WHERE d.job_id = j.id AND d.failed)::int AS failed
         FROM rag.jobs j WHERE j.id = $1 AND j.team = $2`,
      [id, team],
    );
    const r = rows[0];
    if (!r) throw new NotFoundError(`job '${id}' not found`, { param: "id", reason: "job_not_found" });
    const errors = await this.db.query<{ document_id: string; error: string }>(
      "SELECT document_id, error FROM rag.job_documents WHERE job_id = $1 AND failed ORDER BY seq LIMIT 20",
      [id],
    );
    const [done, failed] = [Number(r.done), Number(r.failed)];
    return {
      id,
      team,
      collection: r.collection,
      total: r.total,
      done,
      failed,
      state: jobState(r.total, done, failed),
      errors: errors.rows.map((e) => ({ documentId: e.document_id, error: e.error })),
      createdAt: new Date(r.created_at),
    };
  }
}
