import { randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { Logger } from "@sloughgpt/runtime";

/** A replica further than this from the server is worth a warning: its windows start that much off. */
const SKEW_WARN_MS = 1_000;
/** Clocks drift and get stepped by NTP; the offset is measured again this often. */
export const CLOCK_RESYNC_MS = 10 * 60_000;

/**
 * This machine's clock moved onto the NATS server's. Windows are numbered from this time, so every
 * replica (whatever its own clock says) agrees on when a window starts, to within half a round trip.
 */
export class ServerClock {
  private offsetMs = 0;
  private syncedAt = Number.NEGATIVE_INFINITY;

  readonly now = (): number => Date.now() + this.offsetMs;

  get due(): boolean {
    return performance.now() - this.syncedAt >= CLOCK_RESYNC_MS;
  }

  /**
   * Writes a probe entry and reads back the time the stream leader stamped on it. The probe is a key
   * of its own, so other replicas' probes cannot overwrite it before it is read; the bucket's TTL
   * removes it.
   */
  async sync(kv: KV, logger: Logger): Promise<void> {
    const key = `clock.${randomBytes(8).toString("hex")}`;
    const sent = Date.now();
    const revision = await kv.put(key, new Uint8Array(0));
    const received = Date.now();
    const probe = await kv.get(key, { revision });
    if (!probe) throw new Error(`The clock probe ${key} vanished before it was read`);
    this.offsetMs = Math.round(probe.created.getTime() - (sent + received) / 2);
    this.syncedAt = performance.now();
    const log = { offsetMs: this.offsetMs, roundTripMs: received - sent };
    if (Math.abs(this.offsetMs) > SKEW_WARN_MS) {
      logger.warn(log, "Measured a large offset from the NATS server's clock; windows follow the server's");
    } else {
      logger.debug(log, "Measured the offset from the NATS server's clock");
    }
  }
}
