export * from "./codec.js";
export * from "./frame.js";
export * from "./ids.js";
export * from "./limits.js";
export type * from "./messages.js";
export { OPTION_OVERRIDE_KEYS } from "./messages.js";
export * from "./payload.js";
export * from "./version.js";
export * from "./web.js";
