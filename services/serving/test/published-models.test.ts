import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { type Bus, connectBus, ensureStreams, publish, subjects } from "@sloughgpt/bus";
import { ensureTinyModel } from "@sloughgpt/gguf";
import { createLogger, type Logger } from "@sloughgpt/runtime";
import { DEFAULT_NATS_URL, deleteNamespace, testNamespace } from "@sloughgpt/testing";
import { backendFactory } from "../src/registry/factory.js";
import { PublishedModels } from "../src/registry/published.js";
import { ModelRegistry } from "../src/registry/registry.js";

// model.published through real NATS JetStream into a real registry with llama.cpp (inline engine).
jest.setTimeout(60_000);

const quiet = createLogger({ service: "test", level: "silent" });

/** A logger that keeps the messages logged at error. */
function recordingLogger() {
  const errors: string[] = [];
  const silent = () => undefined;
  const logger = {
    error: (_: unknown, msg = "") => void errors.push(msg),
    warn: silent,
    info: silent,
    debug: silent,
    trace: silent,
  };
  return { logger: { ...logger, child: () => logger } as unknown as Logger, errors };
}

let dir: string;
let tiny: string;
let namespace: string;
let bus: Bus;
let registry: ModelRegistry;
let loads: string[];
let stop: AbortController;
let consuming: Promise<void>;
let errors: string[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "published-"));
  tiny = (await ensureTinyModel(path.join(dir, "tiny.gguf"))).path;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

beforeEach(async () => {
  namespace = testNamespace();
  bus = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "published-test", logger: quiet });
  await ensureStreams(bus, ["MODELS"]);
  loads = [];
  registry = new ModelRegistry(
    [],
    backendFactory({ isolation: "inline", gpu: "false", logger: quiet }),
    quiet,
    {
      onLoaded: (id) => void loads.push(id),
    },
  );
  const recorder = recordingLogger();
  errors = recorder.errors;
  stop = new AbortController();
  consuming = new PublishedModels({
    registry,
    logger: recorder.logger,
    defaults: { contextSize: 256 },
  }).consume(bus, "serving-test", stop.signal);
});

afterEach(async () => {
  stop.abort();
  await consuming;
  await registry.close();
  await bus.close();
  await deleteNamespace(DEFAULT_NATS_URL, namespace);
});

const event = (modelId: string, file: string, uid = "u1") => ({
  modelId,
  path: file,
  job: { namespace: "ml", name: "train", uid },
  at: new Date().toISOString(),
});
const send = (data: ReturnType<typeof event>, msgId: string) =>
  publish(bus, subjects.modelPublished, data, { msgId });

/** Waits until the durable consumer has acknowledged `count` messages. */
async function untilAcked(count: number) {
  for (;;) {
    const info = await bus.jsm.consumers.info(bus.stream("MODELS"), "serving-test");
    if (info.ack_floor.stream_seq >= count && info.num_ack_pending === 0) return info;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const listed = () =>
  registry
    .models()
    .filter((m) => m.state === "loaded")
    .map((m) => m.id);

describe("serving registers published models", () => {
  test("loads a published model once, however often its event arrives", async () => {
    await send(event("trained", tiny), "m1");
    await send(event("trained", tiny), "m2");
    await send(event("trained", tiny, "u2"), "m3");
    const info = await untilAcked(3);
    expect(listed()).toEqual(["trained"]);
    expect(loads).toEqual(["trained"]);
    expect(info.num_redelivered).toBe(0);
    expect(errors).toEqual([]);
  });

  test("a bad file is logged and acknowledged, not retried, and later events still load", async () => {
    const garbage = path.join(dir, "garbage.gguf");
    await writeFile(garbage, "not a gguf file at all");
    await send(event("broken", garbage), "b1");
    await send(event("missing", path.join(dir, "nowhere.gguf")), "b2");
    await send(event("remote", "https://example.com/model.gguf"), "b3");
    // Published past the schema, as a broken producer would: terminated by the consumer.
    await bus.js.publish(bus.subject("model.published"), JSON.stringify({ modelId: "no-path", at: "now" }));
    await send(event("good", tiny), "b5");
    const info = await untilAcked(5);
    expect(info.num_redelivered).toBe(0);
    expect(listed()).toEqual(["good"]);
    expect(errors).toHaveLength(4);
  });

  test("a newer file under the same id replaces the loaded model", async () => {
    const copy = path.join(dir, "tiny-2.gguf");
    await send(event("swap", tiny), "s1");
    await untilAcked(1);
    await ensureTinyModel(copy, { seed: 7 });
    await send(event("swap", copy, "u2"), "s2");
    await untilAcked(2);
    expect(loads).toEqual(["swap", "swap"]);
    expect(registry.spec("swap")).toMatchObject({ path: copy });
    expect(listed()).toEqual(["swap"]);
  });
});

describe("MODEL_EVENTS_ROOT", () => {
  test("loads only files under the root, following symbolic links to where they lead", async () => {
    const root = path.join(dir, "models");
    await mkdir(root, { recursive: true });
    const inside = (await ensureTinyModel(path.join(root, "inside.gguf"))).path;
    const sneaky = path.join(root, "sneaky.gguf");
    await symlink(tiny, sneaky);
    const local = new ModelRegistry(
      [],
      backendFactory({ isolation: "inline", gpu: "false", logger: quiet }),
      quiet,
    );
    const recorder = recordingLogger();
    const models = new PublishedModels({
      registry: local,
      logger: recorder.logger,
      root,
      defaults: { contextSize: 256 },
    });
    try {
      expect(await models.handle(event("outside", tiny))).toBe("rejected");
      expect(await models.handle(event("sneaky", sneaky))).toBe("rejected");
      expect(recorder.errors).toHaveLength(2);
      expect(await models.handle(event("inside", inside))).toBe("loaded");
      expect(local.spec("inside")).toMatchObject({ path: inside });
    } finally {
      await local.close();
    }
  });
});
