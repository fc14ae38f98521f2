import type { Logger } from "pino";

type Closer = () => Promise<void> | void;

/**
 * Owns a process's resources: closers run in reverse order of registration on
 * SIGTERM/SIGINT, then the process exits 0. A second signal exits at once.
 */
export class ServiceHost {
  private readonly closers: { name: string; close: Closer }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  defer(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  shutdown(reason: string): Promise<void> {
    this.stopping ??= this.runClosers(reason);
    return this.stopping;
  }

  private async runClosers(reason: string): Promise<void> {
    this.logger.info({ reason }, "Started shutdown");
    for (const { name, close } of [...this.closers].reverse()) {
      try {
        await close();
        this.logger.debug({ component: name }, "Closed component");
      } catch (err) {
        this.logger.error({ err, component: name }, "Failed to close component");
      }
    }
    this.logger.info("Finished shutdown");
  }

  installSignalHandlers(): void {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) process.exit(1);
      this.shutdown(sig).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
}

/** Runs a service's start-up; a failure logs and exits 1 after closing what was opened. */
export async function runMain(logger: Logger, start: (host: ServiceHost) => Promise<void>): Promise<void> {
  const host = new ServiceHost(logger);
  host.installSignalHandlers();
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "Crashed on an unhandled rejection");
    void host.shutdown("unhandledRejection").finally(() => process.exit(1));
  });
  try {
    await start(host);
  } catch (err) {
    logger.fatal({ err }, "Failed to start");
    await host.shutdown("startup failure");
    process.exit(1);
  }
}
