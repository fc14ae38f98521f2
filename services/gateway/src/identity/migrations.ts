import type { Migration } from "@sloughgpt/db";

/** Schema `gateway`: teams and API keys (the audit log adds its own migration). */
export const identityMigrations: Migration[] = [
  {
    id: "0001_teams_keys",
    sql: `
      CREATE TABLE gateway.teams (
        name text PRIMARY KEY,
        rpm integer CHECK (rpm > 0),
        tpm integer CHECK (tpm > 0),
        budget_usd numeric(18, 6) CHECK (budget_usd >= 0),
        budget_period text CHECK (budget_period IN ('daily', 'monthly')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- The bootstrap admin key acts for this team.
      INSERT INTO gateway.teams (name) VALUES ('default');
      CREATE TABLE gateway.api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        team text NOT NULL REFERENCES gateway.teams (name),
        role text NOT NULL CHECK (role IN ('admin', 'ml-engineer', 'consumer', 'viewer')),
        salt text NOT NULL,
        hash text NOT NULL,
        models text[],
        rpm integer CHECK (rpm > 0),
        tpm integer CHECK (tpm > 0),
        budget_usd numeric(18, 6) CHECK (budget_usd >= 0),
        budget_period text CHECK (budget_period IN ('daily', 'monthly')),
        expires_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL
      );
      CREATE INDEX api_keys_team ON gateway.api_keys (team);`,
  },
];
