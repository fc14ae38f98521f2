import type { Role } from "./permissions.js";

export type BudgetPeriod = "daily" | "monthly";

/**
 * Limits stored on a key and on a team, for the rate limiter and budget code to enforce;
 * `null` means no limit at that level.
 */
export interface Limits {
  rpm: number | null;
  tpm: number | null;
  budgetUsd: number | null;
  budgetPeriod: BudgetPeriod | null;
}

export const NO_LIMITS: Limits = Object.freeze({ rpm: null, tpm: null, budgetUsd: null, budgetPeriod: null });

export interface Team {
  name: string;
  limits: Limits;
  createdAt: Date;
  updatedAt: Date;
}

/** A key as listed: everything but the secret's salt and hash. */
export interface ApiKey {
  id: string;
  name: string;
  team: string;
  role: Role;
  /** Models the key may use; `null` allows every model. */
  models: string[] | null;
  limits: Limits;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  createdBy: string;
}

/** A key as authentication needs it: with its hash and its team's limits. */
export interface StoredKey extends ApiKey {
  salt: string;
  hash: string;
  teamLimits: Limits;
}

export interface NewKey {
  name: string;
  team: string;
  role: Role;
  models: string[] | null;
  limits: Limits;
  expiresAt: Date | null;
  createdBy: string;
}
