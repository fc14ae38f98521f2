/** Labels and names shared by the pod builder, the controller's selectors and the tests. */
export const LABEL_JOB = "sloughgpt.io/job-name";
export const LABEL_NODE_INDEX = "sloughgpt.io/node-index";
export const LABEL_ATTEMPT = "sloughgpt.io/attempt";
export const TRAINER_CONTAINER = "trainer";
export const GPU = "nvidia.com/gpu";
export const MASTER_PORT = 29500;

export const podName = (job: string, index: number): string => `${job}-node-${index}`;
/** The headless Service shares the job's name, so `<job>-node-0.<job>` resolves to node 0. */
export const serviceName = (job: string): string => job;
export const masterAddr = (job: string): string => `${podName(job, 0)}.${serviceName(job)}`;
export const jobKey = (namespace: string, name: string): string => `${namespace}/${name}`;
