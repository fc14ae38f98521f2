import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import {
  type Configuration,
  createConfiguration,
  type KubeConfig,
  type RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
} from "@kubernetes/client-node";

type ApiConstructor<T> = new (config: Configuration) => T;

/** Agents kept per KubeConfig; a new set of TLS material (a rotated client certificate) gets a new one. */
const MAX_AGENTS = 4;

type PlainAgent = http.Agent & { options: http.AgentOptions };

/**
 * client-node 1.x builds a fresh http(s).Agent for every request, so every call to the API server
 * opens a new connection (and a TLS handshake). This authenticator applies the KubeConfig's own
 * authentication, then hands the request a keep-alive agent with the same options, shared by every
 * request that has them. Proxy agents are left as they are.
 */
export class ConnectionReuse implements SecurityAuthentication {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly kc: KubeConfig) {}

  getName(): string {
    return "kubeconfig with connection reuse";
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kc.applySecurityAuthentication(context);
    const made = context.getAgent() as PlainAgent | undefined;
    const Agent =
      made?.constructor === https.Agent
        ? https.Agent
        : made?.constructor === http.Agent
          ? http.Agent
          : undefined;
    if (!made || !Agent) return;
    context.setAgent(this.agentFor(Agent, made.options));
  }

  /**
   * Closes idle sockets; requests in flight finish on theirs, which then close instead of staying
   * open. Clients made from the KubeConfig keep working: their next request opens a new connection.
   */
  close(): void {
    for (const agent of this.agents.values()) retire(agent);
    this.agents.clear();
  }

  get size(): number {
    return this.agents.size;
  }

  private agentFor(Agent: typeof http.Agent | typeof https.Agent, options: http.AgentOptions): http.Agent {
    const key = createHash("sha256")
      .update(Agent === https.Agent ? "https" : "http")
      .update(JSON.stringify(options))
      .digest("hex");
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({ ...options, keepAlive: true });
      this.agents.set(key, agent);
      if (this.agents.size > MAX_AGENTS) {
        const [oldest, old] = this.agents.entries().next().value as [string, http.Agent];
        this.agents.delete(oldest);
        retire(old);
      }
    }
    return agent;
  }
}

/** Stops an agent keeping sockets: idle ones close now, busy ones when their request ends. */
function retire(agent: http.Agent): void {
  (agent as http.Agent & { keepAlive: boolean }).keepAlive = false;
  for (const sockets of Object.values(agent.freeSockets))
    for (const socket of sockets ?? []) socket.destroy();
}

const reuse = new WeakMap<KubeConfig, ConnectionReuse>();

/** The connection pool of a KubeConfig, shared by every client made from it with `apiClient`. */
export function connectionReuse(kc: KubeConfig): ConnectionReuse {
  let auth = reuse.get(kc);
  if (!auth) {
    auth = new ConnectionReuse(kc);
    reuse.set(kc, auth);
  }
  return auth;
}

/** `kc.makeApiClient(Api)`, with connections to the API server kept alive and shared. */
export function apiClient<T>(kc: KubeConfig, Api: ApiConstructor<T>): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("The kubeconfig has no current cluster");
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: connectionReuse(kc) },
    }),
  );
}
