export interface ComponentCheck {
  name: string;
  kind: "grpc" | "http" | "nats" | "postgres";
  target: string;
  run: () => Promise<{ healthy: boolean; detail: string }>;
}

export interface ComponentStatus {
  name: string;
  kind: string;
  target: string;
  healthy: boolean;
  detail: string;
  latencyMs: number;
}

/** Runs every check in parallel, each bounded by `timeoutMs`; one failing check never hides the others. */
export async function checkFleet(checks: ComponentCheck[], timeoutMs: number): Promise<ComponentStatus[]> {
  return Promise.all(checks.map((c) => runOne(c, timeoutMs)));
}

async function runOne(check: ComponentCheck, timeoutMs: number): Promise<ComponentStatus> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ healthy: boolean; detail: string }>((resolve) => {
    timer = setTimeout(
      () => resolve({ healthy: false, detail: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  const result = await Promise.race([
    check.run().catch((err: unknown) => ({
      healthy: false,
      detail: err instanceof Error ? err.message : String(err),
    })),
    timeout,
  ]);
  clearTimeout(timer);
  return {
    name: check.name,
    kind: check.kind,
    target: check.target,
    ...result,
    latencyMs: Date.now() - started,
  };
}
