import type { Migration } from "@sloughgpt/db";

export const auditMigrations: Migration[] = [
  {
    id: "0002_audit_log",
    sql: `
      CREATE TABLE gateway.audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        team text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
        status integer,
        reason text NOT NULL,
        source_ip text NOT NULL,
        request_id text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_log_at ON gateway.audit_log (at);
      CREATE INDEX audit_log_action_at ON gateway.audit_log (action, at);`,
  },
];
