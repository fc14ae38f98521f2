import type { Db, Queryable } from "@sloughgpt/db";
import { generateApiKey, hashSecret, newSalt } from "./keys.js";
import type { Role } from "./permissions.js";
import type { ApiKey, BudgetPeriod, Limits, NewKey, StoredKey, Team } from "./types.js";

type Row = Record<string, unknown>;

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date));

function limitsOf(r: Row, prefix = ""): Limits {
  return {
    rpm: num(r[`${prefix}rpm`]),
    tpm: num(r[`${prefix}tpm`]),
    budgetUsd: num(r[`${prefix}budget_usd`]),
    budgetPeriod: (r[`${prefix}budget_period`] as BudgetPeriod | null) ?? null,
  };
}

function keyOf(r: Row): ApiKey {
  return {
    id: r.id as string,
    name: r.name as string,
    team: r.team as string,
    role: r.role as Role,
    models: (r.models as string[] | null) ?? null,
    limits: limitsOf(r),
    expiresAt: date(r.expires_at),
    revokedAt: date(r.revoked_at),
    createdAt: date(r.created_at) as Date,
    createdBy: r.created_by as string,
  };
}

function teamOf(r: Row): Team {
  return {
    name: r.name as string,
    limits: limitsOf(r),
    createdAt: date(r.created_at) as Date,
    updatedAt: date(r.updated_at) as Date,
  };
}

const KEY_COLUMNS =
  "id, name, team, role, models, rpm, tpm, budget_usd, budget_period, expires_at, revoked_at, created_at, created_by";

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "23505";
}

/** Teams and API keys in schema `gateway`. Secrets never reach it, only salts and hashes. */
export class IdentityStore {
  constructor(private readonly db: Db) {}

  /** Creates the key (and its team, without limits, if new); the secret is returned only here. */
  async createKey(k: NewKey): Promise<{ apiKey: ApiKey; key: string }> {
    // A 12-character base62 id collides with odds of ~2^-71 per pair; retry the insert anyway.
    for (let attempt = 0; ; attempt++) {
      const generated = generateApiKey();
      const salt = newSalt();
      try {
        const row = await this.db.transaction(async (tx) => {
          await ensureTeam(tx, k.team);
          const { rows } = await tx.query(
            `INSERT INTO gateway.api_keys
               (id, name, team, role, salt, hash, models, rpm, tpm, budget_usd, budget_period, expires_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             RETURNING ${KEY_COLUMNS}`,
            [
              generated.id,
              k.name,
              k.team,
              k.role,
              salt,
              hashSecret(generated.secret, salt),
              k.models,
              k.limits.rpm,
              k.limits.tpm,
              k.limits.budgetUsd,
              k.limits.budgetPeriod,
              k.expiresAt,
              k.createdBy,
            ],
          );
          return rows[0] as Row;
        });
        return { apiKey: keyOf(row), key: generated.key };
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= 2) throw err;
      }
    }
  }

  async listKeys(filter: { team?: string | undefined } = {}): Promise<ApiKey[]> {
    const { rows } = await this.db.query(
      `SELECT ${KEY_COLUMNS} FROM gateway.api_keys
       WHERE ($1::text IS NULL OR team = $1) ORDER BY created_at, id`,
      [filter.team ?? null],
    );
    return rows.map(keyOf);
  }

  /** The key with its hash and its team's limits, for authentication. */
  async findKey(id: string): Promise<StoredKey | null> {
    const { rows } = await this.db.query(
      `SELECT k.*, t.rpm AS team_rpm, t.tpm AS team_tpm, t.budget_usd AS team_budget_usd,
              t.budget_period AS team_budget_period
       FROM gateway.api_keys k JOIN gateway.teams t ON t.name = k.team
       WHERE k.id = $1`,
      [id],
    );
    const r = rows[0];
    if (!r) return null;
    return { ...keyOf(r), salt: r.salt as string, hash: r.hash as string, teamLimits: limitsOf(r, "team_") };
  }

  /** Marks the key revoked (idempotent: the first revocation time stays); null when unknown. */
  async revokeKey(id: string): Promise<ApiKey | null> {
    const { rows } = await this.db.query(
      `UPDATE gateway.api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
       RETURNING ${KEY_COLUMNS}`,
      [id],
    );
    return rows[0] ? keyOf(rows[0]) : null;
  }

  /** Creates the team or replaces its limits. */
  async upsertTeam(name: string, limits: Limits): Promise<{ team: Team; created: boolean }> {
    const { rows } = await this.db.query(
      `INSERT INTO gateway.teams AS t (name, rpm, tpm, budget_usd, budget_period) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO UPDATE SET rpm = EXCLUDED.rpm, tpm = EXCLUDED.tpm, budget_usd = EXCLUDED.budget_usd,
         budget_period = EXCLUDED.budget_period, updated_at = now()
       RETURNING t.*, (t.xmax = 0) AS created`,
      [name, limits.rpm, limits.tpm, limits.budgetUsd, limits.budgetPeriod],
    );
    const r = rows[0] as Row;
    return { team: teamOf(r), created: r.created === true };
  }

  async listTeams(): Promise<Team[]> {
    const { rows } = await this.db.query("SELECT * FROM gateway.teams ORDER BY name");
    return rows.map(teamOf);
  }

  async findTeam(name: string): Promise<Team | null> {
    const { rows } = await this.db.query("SELECT * FROM gateway.teams WHERE name = $1", [name]);
    return rows[0] ? teamOf(rows[0]) : null;
  }
}

async function ensureTeam(tx: Queryable, team: string): Promise<void> {
  await tx.query("INSERT INTO gateway.teams (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [team]);
}
