import {
  can,
  isPermission,
  isRole,
  PERMISSIONS,
  type Permission,
  ROLE_PERMISSIONS,
  ROLES,
  strongestRole,
} from "./permissions.js";

const table = (role: (typeof ROLES)[number]) => PERMISSIONS.filter((p) => can(role, p));

describe("the permission table", () => {
  it("grants exactly these permissions", () => {
    expect(Object.fromEntries(ROLES.map((r) => [r, table(r)]))).toEqual({
      admin: [...PERMISSIONS],
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
      consumer: [
        "chat:create",
        "embeddings:create",
        "reasoning:create",
        "models:read",
        "rag:read",
        "usage:read",
      ],
      viewer: ["models:read", "rag:read", "training:read", "usage:read", "status:read"],
    });
  });

  it("keeps admin:* to admins", () => {
    const adminOnly = PERMISSIONS.filter((p) => p.startsWith("admin:"));
    for (const role of ROLES.filter((r) => r !== "admin")) {
      for (const p of adminOnly) expect(can(role, p)).toBe(false);
    }
  });

  it("gives viewers nothing that writes or spends", () => {
    expect(table("viewer").filter((p) => /:(create|write)$/.test(p) || p.startsWith("admin:"))).toEqual([]);
  });

  it("orders roles by privilege: each role holds what the next one holds", () => {
    for (let i = 1; i < ROLES.length - 1; i++) {
      const stronger = ROLES[i] as (typeof ROLES)[number];
      const weaker = ROLES[i + 1] as (typeof ROLES)[number];
      // consumer and viewer differ in kind (spend vs. read training/status), not in rank.
      if (weaker === "viewer") continue;
      for (const p of ROLE_PERMISSIONS[weaker]) expect(can(stronger, p)).toBe(true);
    }
  });

  it("names only known permissions", () => {
    for (const role of ROLES) for (const p of ROLE_PERMISSIONS[role]) expect(isPermission(p)).toBe(true);
    expect(isPermission("chat:delete")).toBe(false);
    expect(can("admin", "nope" as Permission)).toBe(false);
  });

  it("knows roles, and picks the strongest of several", () => {
    expect(isRole("ml-engineer")).toBe(true);
    expect(isRole("root")).toBe(false);
    expect(strongestRole(["viewer", "ml-engineer", "other"])).toBe("ml-engineer");
    expect(strongestRole(["admin", "viewer"])).toBe("admin");
    expect(strongestRole(["other"])).toBeUndefined();
    expect(strongestRole([undefined])).toBeUndefined();
  });
});
