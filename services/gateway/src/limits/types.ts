export type ScopeKind = "key" | "team";

/** Who a limit applies to, and the limit: an absent rpm or tpm means no limit of that kind. */
export interface Scope {
  kind: ScopeKind;
  id: string;
  /** Requests per minute. */
  rpm?: number | undefined;
  /** Tokens (prompt + completion) per minute. */
  tpm?: number | undefined;
}

export type LimitName = "requests" | "tokens";

/** What one scope has used in one window. */
export interface Usage {
  requests: number;
  tokens: number;
}

export const NO_USAGE: Usage = { requests: 0, tokens: 0 };
