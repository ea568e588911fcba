import { chmodSync, existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { decodeCbor, type ImageFileEntry, type ImageStepWire } from "@skiff/protocol";
import { NPM_PROJECT } from "./run-step.js";

const APT_NAME = /^[a-z0-9][a-z0-9+.-]*(?:[=:][A-Za-z0-9+.~:_-]+)?$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks a step from the wire (any client can send anything): what reaches a command line is
 * passed as arguments, never pasted into a shell string, but is checked all the same.
 */
export function checkStep(where: string, s: ImageStepWire): string | undefined {
  const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string");
  const abs = (p: unknown) => typeof p === "string" && p.startsWith("/") && !p.split("/").includes("..");
  switch (s.kind) {
    case "apt":
      if (!strings(s.packages) || !s.packages.every((p) => APT_NAME.test(p))) return `${where}: invalid package names`;
      return;
    case "npm":
      if (!strings(s.specs) || s.specs.some((p) => p === "" || /\s/.test(p) || p.startsWith("-")))
        return `${where}: invalid npm package specs`;
      return;
    case "run":
      if (!strings(s.commands)) return `${where}: commands must be strings`;
      return;
    case "env":
      if (s.vars === null || typeof s.vars !== "object") return `${where}: env must be an object of strings`;
      for (const [k, v] of Object.entries(s.vars)) {
        if (!ENV_KEY.test(k)) return `${where}: ${JSON.stringify(k)} is not a valid variable name`;
        if (typeof v !== "string") return `${where}: ${k} must be a string, got ${typeof v}`;
      }
      return;
    case "workdir":
      if (!abs(s.path)) return `${where}: the path must be absolute`;
      return;
    case "dir":
    case "file":
      if (!abs(s.remote))
        return `${where}: the image path must be absolute (start with "/"), got ${JSON.stringify(s.remote)}`;
      if (typeof s.blobId !== "string" || typeof s.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(s.sha256))
        return `${where}: the local files were not uploaded (the CLI uploads them before the build)`;
      return;
    default:
      return `${where}: unknown step kind ${JSON.stringify((s as { kind: unknown }).kind)}`;
  }
}

/** The command line a step that runs in the image uses. */
export function stepArgv(s: ImageStepWire): string[] | undefined {
  const apt = ["-o", "APT::Sandbox::User=root", "-o", "Dpkg::Use-Pty=0", "-q"];
  switch (s.kind) {
    case "apt":
      return [
        "/bin/sh",
        "-c",
        // apt's package caches (pkgcache.bin, ~80 MB) are rebuilt from the shared lists: not kept in the layer.
        `apt-get ${apt.join(" ")} update && apt-get ${apt.join(" ")} install -y --no-install-recommends -- "$@" && rm -f /var/cache/apt/*.bin`,
        "sh",
        ...s.packages,
      ];
    case "npm":
      return [
        "/bin/sh",
        "-c",
        `mkdir -p ${NPM_PROJECT} && cd ${NPM_PROJECT} && { [ -f package.json ] || echo '{"private":true}' > package.json; } && exec node /opt/skiff/node/lib/node_modules/npm/bin/npm-cli.js install --no-audit --no-fund "$@"`,
        "sh",
        ...s.specs,
      ];
    case "run":
      // One shell per command, stopping at the first that fails (as Modal's run_commands).
      return ["/bin/sh", "-c", 'for c in "$@"; do echo "+ $c"; /bin/sh -c "$c" || exit $?; done', "sh", ...s.commands];
    default:
      return undefined;
  }
}

/** Writes the files of an addLocalDir/addLocalFile blob under `remote` in a layer's root. */
export function writeLocalFiles(root: string, s: ImageStepWire & { kind: "dir" | "file" }, blob: Uint8Array): number {
  const entries = decodeCbor(blob) as ImageFileEntry[];
  if (!Array.isArray(entries)) throw new Error("the files blob is not a list of files");
  let bytes = 0;
  for (const e of entries) {
    const rel = s.kind === "file" ? "" : normalize(e.path);
    if (rel.startsWith("..") || rel.startsWith("/")) throw new Error(`refusing a file outside the target: ${e.path}`);
    const target = join(root, s.remote, rel);
    mkdirSync(dirname(target), { recursive: true });
    // Never write through a hard link shared with the parent layer: replace the file.
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    writeFileSync(target, e.data);
    chmodSync(target, (e.mode & 0o777) | 0o444);
    bytes += e.data.byteLength;
  }
  if (s.kind === "dir" && entries.length === 0) mkdirSync(join(root, s.remote), { recursive: true });
  return bytes;
}

/** Placeholder for a path a step's sandbox binds over (so it exists in a read-only root). */
export function ensureFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  try {
    unlinkSync(path);
  } catch {}
  writeFileSync(path, "");
}
