import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  ContainerEvents,
  ContainerHandle,
  ContainerSpec,
  WorkerProvider,
} from "@skiff/server";
import { detectSandbox, type SandboxChoice } from "./sandbox/detect.js";
import type { Sandbox } from "./sandbox/sandbox.js";

export interface LocalProviderOptions {
  /** @defaultValue "auto" (bubblewrap if it works here, else plain processes with a warning) */
  sandbox?: SandboxChoice;
  /** Host paths containers must not see: the server's data directory, the config file. */
  hide?: string[];
  /** GPU types on this host; detected with nvidia-smi when not given. */
  gpuTypes?: string[];
  log?: (msg: string) => void;
}

const RUNTIME_ENTRY = fileURLToPath(new URL("./runtime/main.js", import.meta.url));

/** Runs containers as processes on this host, each in its own sandbox. */
export class LocalProvider implements WorkerProvider {
  readonly name = "local";
  readonly sandbox: Sandbox;
  private readonly children = new Set<ChildProcess>();
  private readonly hide: string[];
  private gpus: string[] | undefined;

  constructor(opts: LocalProviderOptions = {}) {
    const { sandbox, warning } = detectSandbox(opts.sandbox ?? "auto");
    this.sandbox = sandbox;
    if (warning) (opts.log ?? ((m: string) => console.error(`[skiff] warning: ${m}`)))(warning);
    this.hide = opts.hide ?? [];
    this.gpus = opts.gpuTypes;
  }

  gpuTypes(): string[] {
    if (!this.gpus) {
      try {
        const out = execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
          timeout: 5000,
          stdio: ["ignore", "pipe", "ignore"],
        });
        this.gpus = out
          .toString()
          .split("\n")
          .map((s) => s.trim())
          .filter(Boolean);
      } catch {
        this.gpus = [];
      }
    }
    return this.gpus;
  }

  async start(spec: ContainerSpec, events: ContainerEvents): Promise<ContainerHandle> {
    const hostWorkdir =
      this.sandbox.name === "none" ? mkdtempSync(join(tmpdir(), `skiff-${spec.containerId}-`)) : "";
    const workdir = this.sandbox.workdir(hostWorkdir);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: workdir,
      LANG: process.env.LANG ?? "C.UTF-8",
      ...spec.env,
      SKIFF_ENVIRONMENT: spec.environment,
      SKIFF_CONTAINER_ID: spec.containerId,
      SKIFF_CONTAINER_TOKEN: spec.token,
      SKIFF_CONTROL_SOCKET: this.sandbox.socketPath(spec.controlSocket),
      SKIFF_WORKDIR: workdir,
    };
    const nodeArgs = spec.memoryMiB ? [`--max-old-space-size=${spec.memoryMiB}`] : [];
    const { file, args } = this.sandbox.command([process.execPath, ...nodeArgs, RUNTIME_ENTRY], {
      hostWorkdir,
      controlSocket: spec.controlSocket,
      blockNetwork: spec.blockNetwork,
      hide: this.hide,
    });
    const child = spawn(file, args, {
      env,
      cwd: hostWorkdir || "/",
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    child.stdout!.setEncoding("utf8").on("data", (t: string) => events.onOutput("stdout", t));
    child.stderr!.setEncoding("utf8").on("data", (t: string) => events.onOutput("stderr", t));
    let exited = false;
    const onEnd = (code: number | null, signal: string | null) => {
      if (exited) return;
      exited = true;
      this.children.delete(child);
      if (hostWorkdir) rmSync(hostWorkdir, { recursive: true, force: true });
      events.onExit(code, signal);
    };
    child.on("exit", onEnd);
    child.on("error", (err) => {
      events.onOutput("stderr", `could not start the container process: ${err.message}\n`);
      onEnd(null, null);
    });
    return {
      containerId: spec.containerId,
      pid: child.pid,
      kill: () => {
        if (!exited) child.kill("SIGKILL");
      },
    };
  }

  async close(): Promise<void> {
    const waits = [...this.children].map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once("exit", () => r());
          c.kill("SIGKILL");
        }),
    );
    await Promise.all(waits);
  }
}
