export { FakeKubelet, type FakeNode, type PodScript } from "./kubelet.js";
export { builtinTypes, crdType, FakeKubeApiServer, type FakeKubeApiServerOptions } from "./server.js";
export { ApiError, FakeStore, type KubeObject, type ResourceType, type StoreEvent } from "./store.js";
