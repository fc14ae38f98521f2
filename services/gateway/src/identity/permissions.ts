/** Roles a key or token can carry, most privileged first (the order `strongestRole` relies on). */
export const ROLES = ["admin", "ml-engineer", "consumer", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  "chat:create",
  "embeddings:create",
  "reasoning:create",
  "models:read",
  "rag:read",
  "rag:write",
  "training:read",
  "training:write",
  "usage:read",
  "status:read",
  "admin:keys",
  "admin:teams",
  "admin:models",
  "admin:audit",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * The one permission table. Every route declares one permission (`config.permission`) and a
 * request passes when its role holds it. Data routes always act for the caller's own team, so
 * these permissions never reach across teams; only `admin:*` routes see every team.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS,
  "ml-engineer": [
    "chat:create",
    "embeddings:create",
    "reasoning:create",
    "models:read",
    "rag:read",
    "rag:write",
    "training:read",
    "training:write",
    "usage:read",
    "status:read",
  ],
  consumer: ["chat:create", "embeddings:create", "reasoning:create", "models:read", "rag:read", "usage:read"],
  viewer: ["models:read", "rag:read", "training:read", "usage:read", "status:read"],
};

const GRANTS = new Map(ROLES.map((r) => [r, new Set<Permission>(ROLE_PERMISSIONS[r])]));

export function can(role: Role, permission: Permission): boolean {
  return GRANTS.get(role)?.has(permission) ?? false;
}

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === "string" && (PERMISSIONS as readonly string[]).includes(value);
}

/** Routes whose request names a model: a key's model allow-list applies to them. */
export const MODEL_SCOPED: ReadonlySet<Permission> = new Set<Permission>([
  "chat:create",
  "embeddings:create",
  "reasoning:create",
]);

/** The most privileged known role among `values` (an IdP may send several), if any. */
export function strongestRole(values: readonly unknown[]): Role | undefined {
  return ROLES.find((r) => values.includes(r));
}
