/** Condition types of a TrainingJob; one per phase it can be in. */
export const ConditionType = {
  Queued: "Queued",
  Admitted: "Admitted",
  Running: "Running",
  Restarting: "Restarting",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Suspended: "Suspended",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Every reason string the controller writes into conditions and Events, in one place. */
export const Reason = {
  InsufficientGpus: "InsufficientGpus",
  WaitingBehindHigherPriority: "WaitingBehindHigherPriority",
  NoMatchingNodes: "NoMatchingNodes",
  Admitted: "Admitted",
  PodsCreated: "PodsCreated",
  AllNodesRunning: "AllNodesRunning",
  RetryableExit: "RetryableExit",
  PodLost: "PodLost",
  PermanentExit: "PermanentExit",
  RestartsExhausted: "RestartsExhausted",
  DeadlineExceeded: "DeadlineExceeded",
  Unschedulable: "Unschedulable",
  AllNodesSucceeded: "AllNodesSucceeded",
  Suspended: "Suspended",
  Resumed: "Resumed",
  Expired: "TtlExpired",
  InvalidSpec: "InvalidSpec",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
