export { LocalProvider, type LocalProviderOptions } from "./local-provider.js";
export { detectSandbox, type SandboxChoice } from "./sandbox/detect.js";
export type { Sandbox, SandboxOptions } from "./sandbox/sandbox.js";
