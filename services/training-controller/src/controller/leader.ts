import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "@sloughgpt/runtime";
import { apiClient } from "./client.js";

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  /** How often the leader renews and the others try to take over. */
  retryPeriodSeconds: number;
  logger: Logger;
  now?: () => Date;
}

const code = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews renewTime
 * every retry period; anyone may take the lease once renewTime + leaseDuration has passed. Every write
 * carries the resourceVersion it read, so of two candidates only one wins (the other gets a 409).
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly now: () => Date;

  constructor(
    kc: KubeConfig,
    private readonly opts: LeaderOptions,
  ) {
    this.api = apiClient(kc, CoordinationV1Api);
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Campaigns until `signal` aborts; `lead` runs while this replica holds the lease and receives a signal
   * that aborts when it stops holding it (renewals failing for a whole lease duration).
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<void> {
    let leading: AbortController | undefined;
    let led: Promise<void> | undefined;
    let lastRenew = 0;
    while (!signal.aborted) {
      // undefined: the API server could not be asked; keep leading until the lease would have expired.
      const held = await this.tryAcquireOrRenew().catch((err) => {
        this.opts.logger.warn({ err }, "Failed to renew the leader lease");
        return undefined;
      });
      if (held) lastRenew = this.now().getTime();
      const expired = this.now().getTime() - lastRenew > this.opts.leaseDurationSeconds * 1000;
      if (held && !leading) {
        leading = new AbortController();
        this.opts.logger.info({ lease: this.opts.name, identity: this.opts.identity }, "Became the leader");
        led = lead(leading.signal);
      } else if (leading && (held === false || (held === undefined && expired))) {
        this.opts.logger.warn({ lease: this.opts.name }, "Lost the leader lease; stopped acting");
        leading.abort();
        await led;
        leading = undefined;
      }
      await sleep(this.opts.retryPeriodSeconds * 1000, signal);
    }
    leading?.abort();
    await led;
  }

  /** Gives the lease up at once (on a clean shutdown) so a standby does not wait out the duration. */
  async release(): Promise<void> {
    const lease = await this.read();
    if (lease?.spec?.holderIdentity !== this.opts.identity) return;
    const spec = { ...lease.spec, holderIdentity: undefined, renewTime: undefined };
    await this.api
      .replaceNamespacedLease({
        namespace: this.opts.namespace,
        name: this.opts.name,
        body: { ...lease, spec },
      })
      .catch(() => undefined);
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ namespace: this.opts.namespace, name: this.opts.name });
    } catch (err) {
      if (code(err) === 404) return undefined;
      throw err;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.opts;
    const now = this.now();
    const lease = await this.read();
    if (!lease) {
      const spec = {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      };
      return this.write(() =>
        this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } }),
      );
    }
    const spec = lease.spec ?? {};
    const mine = spec.holderIdentity === identity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const free =
      !spec.holderIdentity ||
      renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (!mine && !free) return false;
    const next = mine
      ? { ...spec, renewTime: now }
      : {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
        };
    return this.write(() =>
      this.api.replaceNamespacedLease({ namespace, name, body: { ...lease, spec: next } }),
    );
  }

  private async write(op: () => Promise<unknown>): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (err) {
      if (code(err) === 409) return false;
      throw err;
    }
  }
}
