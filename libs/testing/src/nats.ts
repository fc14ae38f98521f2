import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** A namespace no other test run uses, so streams and subjects never collide on a shared server. */
export function testNamespace(): string {
  return `t${randomBytes(5).toString("hex")}`;
}

/** Deletes every stream of a namespace, KV buckets' (`KV_<NS>_…`) included. */
export async function deleteNamespace(url: string, namespace: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const prefix = `${namespace.toUpperCase()}_`;
    for await (const s of jsm.streams.list()) {
      const name = s.config.name;
      if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}
