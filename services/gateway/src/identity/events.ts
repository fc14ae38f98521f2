import type { Bus } from "@sloughgpt/bus";
import type { Logger } from "@sloughgpt/runtime";
import { z } from "zod";

/** Core NATS (not JetStream): a replica that is down misses nothing it needs, its cache is empty. */
export const KEY_REVOKED = "gateway.keys.revoked";
export const TEAM_CHANGED = "gateway.teams.changed";

const keyRevoked = z.object({ id: z.string().min(1) });
const teamChanged = z.object({ name: z.string().min(1) });

/** Tells every gateway replica (this one included) that cached identity data went stale. */
export interface IdentityEvents {
  keyRevoked(id: string): void;
  teamChanged(name: string): void;
}

export interface IdentityEventHandlers {
  onKeyRevoked(id: string): void;
  onTeamChanged(name: string): void;
}

/**
 * Subscribes to `<namespace>.gateway.keys.revoked` and `…teams.changed`, and publishes on them.
 * Resolves once the server has the subscriptions, so no event published afterwards is missed.
 */
export async function connectIdentityEvents(
  bus: Bus,
  handlers: IdentityEventHandlers,
  logger: Logger,
): Promise<IdentityEvents & { close(): void }> {
  const listen = <T>(rel: string, schema: z.ZodType<T>, handle: (data: T) => void) =>
    bus.nc.subscribe(bus.subject(rel), {
      callback: (err, msg) => {
        if (err) return logger.warn({ err, subject: rel }, "Failed to receive identity event");
        const parsed = schema.safeParse(safeJson(msg.string()));
        if (parsed.success) handle(parsed.data);
        else logger.warn({ subject: msg.subject }, "Ignored an invalid identity event");
      },
    });
  const subs = [
    listen(KEY_REVOKED, keyRevoked, (d) => handlers.onKeyRevoked(d.id)),
    listen(TEAM_CHANGED, teamChanged, (d) => handlers.onTeamChanged(d.name)),
  ];
  await bus.nc.flush();
  return {
    keyRevoked: (id) => bus.nc.publish(bus.subject(KEY_REVOKED), JSON.stringify({ id })),
    teamChanged: (name) => bus.nc.publish(bus.subject(TEAM_CHANGED), JSON.stringify({ name })),
    close: () => {
      for (const s of subs) s.unsubscribe();
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
