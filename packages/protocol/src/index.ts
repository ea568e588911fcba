export * from "./codec.js";
export type * from "./dashboard.js";
export { CALL_STATUSES } from "./dashboard.js";
export * from "./frame.js";
export * from "./framed-stream.js";
export * from "./hot.js";
export * from "./ids.js";
export * from "./images.js";
export * from "./limits.js";
export type * from "./messages.js";
export {
  AUTOSCALER_KEYS,
  EXEC_WINDOW_BYTES,
  MAX_BATCH_SIZE,
  MAX_BATCH_WAIT_MS,
  OPTION_OVERRIDE_KEYS,
} from "./messages.js";
export * from "./objects.js";
export * from "./ordered-map.js";
export * from "./packed.js";
export * from "./payload.js";
export * from "./provider.js";
export * from "./thenable.js";
export * from "./trace.js";
export * from "./version.js";
export * from "./web.js";
export * from "./workers.js";
