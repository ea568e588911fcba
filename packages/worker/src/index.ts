export { LocalImageBuilder } from "./images/builder.js";
export { probeBuildTools } from "./images/capability.js";
export { LocalProvider, type LocalProviderOptions } from "./local-provider.js";
export { detectSandbox, type SandboxChoice } from "./sandbox/detect.js";
export { detectLimiter, type Limiter, type LimitsChoice } from "./sandbox/limits.js";
export { hostAddresses } from "./sandbox/network.js";
export type { Sandbox, SandboxOptions } from "./sandbox/sandbox.js";
