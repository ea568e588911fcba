import type { ImageStepWire, ImageWire } from "@skiff/protocol";
import { InvalidError } from "./errors.js";

/** Options every image step takes. */
export interface ImageStepOptions {
  /** Rebuild this step and those after it, whatever the cache holds (also: SKIFF_FORCE_BUILD=1). */
  forceBuild?: boolean;
}

const APT_NAME = /^[a-z0-9][a-z0-9+.-]*(?:[=:][A-Za-z0-9+.~:_-]+)?$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A container image (api.md §1a): Debian stable plus the steps recorded on it. Values are
 * immutable: each step returns a new `Image`, so one base can be shared by several images.
 * The control plane builds it; each step is a cached layer.
 */
export class Image {
  private constructor(private readonly steps: readonly ImageStepWire[]) {}

  /** Debian stable (minimal), with a Node of the runtime's major version. */
  static debianSlim(): Image {
    return new Image([]);
  }

  /** Debian packages, installed with apt-get (no recommends). */
  aptInstall(...args: [...string[]] | [...string[], ImageStepOptions]): Image {
    const [packages, o] = split(args);
    const where = this.where("aptInstall", packages);
    if (packages.length === 0) throw new InvalidError(`${where}: name at least one package`);
    for (const p of packages) {
      if (typeof p !== "string" || !APT_NAME.test(p))
        throw new InvalidError(`${where}: ${JSON.stringify(p)} is not a Debian package name`);
    }
    return this.add({ kind: "apt", packages, ...force(where, o) });
  }

  /** npm packages (`name`, `name@version`), installed in the image; the app's imports resolve to them. */
  npmInstall(...args: [...string[]] | [...string[], ImageStepOptions]): Image {
    const [specs, o] = split(args);
    const where = this.where("npmInstall", specs);
    if (specs.length === 0) throw new InvalidError(`${where}: name at least one package`);
    for (const s of specs) {
      if (typeof s !== "string" || s.length === 0 || /\s/.test(s) || s.startsWith("-"))
        throw new InvalidError(`${where}: ${JSON.stringify(s)} is not an npm package spec`);
    }
    return this.add({ kind: "npm", specs, ...force(where, o) });
  }

  /** Shell commands (`sh -c`), run in order as root in the image at build time. */
  runCommands(...args: [...string[]] | [...string[], ImageStepOptions]): Image {
    const [commands, o] = split(args);
    const where = this.where("runCommands", commands);
    if (commands.length === 0) throw new InvalidError(`${where}: give at least one command`);
    for (const c of commands) {
      if (typeof c !== "string" || c.trim() === "")
        throw new InvalidError(`${where}: each command must be a non-empty string`);
    }
    return this.add({ kind: "run", commands, ...force(where, o) });
  }

  /** Environment variables for later steps and for the functions that run in the image. */
  env(vars: Record<string, string>, o?: ImageStepOptions): Image {
    const where = `Image step ${this.steps.length + 1} (env)`;
    if (vars === null || typeof vars !== "object" || Array.isArray(vars))
      throw new InvalidError(`${where}: give an object of strings`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars)) {
      if (!ENV_KEY.test(k)) throw new InvalidError(`${where}: ${JSON.stringify(k)} is not a valid variable name`);
      if (typeof v !== "string")
        throw new InvalidError(`${where}: ${k} must be a string, got ${v === null ? "null" : typeof v} (${String(v)})`);
      out[k] = v;
    }
    return this.add({ kind: "env", vars: out, ...force(where, o) });
  }

  /** The working directory of later steps and of the functions (created if missing). */
  workdir(path: string, o?: ImageStepOptions): Image {
    const where = `Image step ${this.steps.length + 1} (workdir ${JSON.stringify(path)})`;
    absolute(where, path);
    return this.add({ kind: "workdir", path, ...force(where, o) });
  }

  /** Copies a local directory into the image at `remote` (absolute) when it is built. */
  addLocalDir(local: string, remote: string, o?: ImageStepOptions): Image {
    return this.addLocal("dir", "addLocalDir", local, remote, o);
  }

  /** Copies a local file into the image at `remote` (absolute) when it is built. */
  addLocalFile(local: string, remote: string, o?: ImageStepOptions): Image {
    return this.addLocal("file", "addLocalFile", local, remote, o);
  }

  /** @internal What the control plane builds. */
  _wire(): ImageWire {
    return { base: "debian-slim", steps: this.steps.map((s) => ({ ...s })) };
  }

  private addLocal(kind: "dir" | "file", name: string, local: string, remote: string, o?: ImageStepOptions): Image {
    const where = `Image step ${this.steps.length + 1} (${name} ${JSON.stringify(local)} -> ${JSON.stringify(remote)})`;
    if (typeof local !== "string" || local === "")
      throw new InvalidError(`${where}: the local path must be a non-empty string`);
    absolute(where, remote);
    return this.add({ kind, local, remote, ...force(where, o) });
  }

  private where(name: string, args: unknown[]): string {
    return `Image step ${this.steps.length + 1} (${name} ${args.map((a) => JSON.stringify(a)).join(" ")})`;
  }

  private add(step: ImageStepWire): Image {
    return new Image([...this.steps, step]);
  }
}

function split(args: unknown[]): [string[], ImageStepOptions | undefined] {
  const last = args[args.length - 1];
  if (last !== null && typeof last === "object") return [args.slice(0, -1) as string[], last as ImageStepOptions];
  return [args as string[], undefined];
}

function force(where: string, o: ImageStepOptions | undefined): { forceBuild?: true } {
  if (o === undefined) return {};
  if (o === null || typeof o !== "object") throw new InvalidError(`${where}: options must be { forceBuild?: boolean }`);
  for (const k of Object.keys(o)) {
    if (k !== "forceBuild") throw new InvalidError(`${where}: unknown option ${JSON.stringify(k)}`);
  }
  if (o.forceBuild !== undefined && typeof o.forceBuild !== "boolean")
    throw new InvalidError(`${where}: forceBuild must be a boolean`);
  return o.forceBuild ? { forceBuild: true } : {};
}

function absolute(where: string, path: unknown): void {
  if (typeof path !== "string" || !path.startsWith("/"))
    throw new InvalidError(
      `${where}: the image path must be absolute (start with "/"), got ${JSON.stringify(path)}; e.g. "/app/${String(path ?? "").replace(/^\.?\/*/, "")}"`,
    );
  if (path.split("/").includes("..")) throw new InvalidError(`${where}: the image path must not contain ".."`);
}
