/**
 * Images on the wire (api.md §1a): the steps an `Image` value records, the events a build
 * streams back, and what `skiff image list` shows. A step's layer key is computed by the
 * builder from these fields (never from anything the client claims about a key).
 */

interface StepCommon {
  /** Rebuild this step (and those after it) on this build, whatever the cache holds. */
  forceBuild?: boolean;
}

export type ImageStepWire =
  | (StepCommon & { kind: "apt"; packages: string[] })
  | (StepCommon & { kind: "npm"; specs: string[] })
  | (StepCommon & { kind: "run"; commands: string[] })
  | (StepCommon & { kind: "env"; vars: Record<string, string> })
  | (StepCommon & { kind: "workdir"; path: string })
  /**
   * `local` is what the SDK recorded (a path on the deploying machine); the CLI uploads the
   * files as one blob (CBOR of `ImageFileEntry[]`) and replaces it by `blobId` and `sha256`.
   */
  | (StepCommon & { kind: "dir" | "file"; remote: string; local?: string; blobId?: string; sha256?: string });

export interface ImageWire {
  base: "debian-slim";
  steps: ImageStepWire[];
  /**
   * Set by the CLI once per command when a step has `forceBuild` (or SKIFF_FORCE_BUILD=1):
   * such steps get a key of their own for this build, so building again at publish hits the
   * layer just built, and the layers other apps use stay as they are.
   */
  forceBuildId?: string;
}

/** One file of an `addLocalDir` / `addLocalFile` blob. `path` is relative to the step's `remote`. */
export interface ImageFileEntry {
  path: string;
  mode: number;
  data: Uint8Array;
}

/** Progress of a build: a step starts (index 0 is the base), its output, its end. */
export type ImageBuildProgress =
  | { kind: "step"; index: number; label: string; key: string; cached: boolean }
  | { kind: "output"; index: number; text: string }
  | { kind: "done"; index: number; key: string; cached: boolean; durationMs: number };

/** Progress of one build, streamed to the client that asked for it. */
export type ImageBuildEvent = ImageBuildProgress & { buildId: string };

export interface ImageBuildStepResult {
  label: string;
  key: string;
  cached: boolean;
  durationMs: number;
}

export interface ImageLayerInfo {
  key: string;
  parent: string | null;
  /** The step that made it ("base debian-slim", "aptInstall jq", …). */
  step: string;
  /** Bytes of the files this layer adds (files unchanged from its parent are hard links, not counted). */
  bytes: number;
  createdAt: number;
  lastUsedAt: number;
  /** Live apps whose functions run in an image ending at (or built on) this layer. */
  apps: string[];
}

/** How a step reads in build output and `skiff image list`. */
export function imageStepLabel(s: ImageStepWire): string {
  switch (s.kind) {
    case "apt":
      return `aptInstall ${s.packages.join(" ")}`;
    case "npm":
      return `npmInstall ${s.specs.join(" ")}`;
    case "run":
      return `runCommands ${s.commands.map((c) => JSON.stringify(c)).join(" ")}`;
    case "env":
      return `env ${Object.keys(s.vars).join(" ")}`;
    case "workdir":
      return `workdir ${s.path}`;
    case "dir":
      return `addLocalDir ${s.local ?? s.sha256?.slice(0, 12) ?? ""} -> ${s.remote}`;
    case "file":
      return `addLocalFile ${s.local ?? s.sha256?.slice(0, 12) ?? ""} -> ${s.remote}`;
  }
}
