import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  encodeCbor,
  type FunctionSpec,
  type ImageBuildEvent,
  type ImageFileEntry,
  type ImageWire,
  imageStepLabel,
  MAX_PAYLOAD_BYTES,
  newId,
} from "@skiff/protocol";
import type { Client } from "skiff";
import { type Bundle, bundleApp } from "./bundle.js";
import { UsageError } from "./errors.js";
import { formatBytes, ui } from "./output.js";

/** Reads the files an addLocalDir/addLocalFile step adds, as one blob (CBOR of entries, sorted). */
function packLocal(where: string, kind: "dir" | "file", local: string, baseDir: string): Uint8Array {
  const path = resolve(baseDir, local);
  let st: import("node:fs").Stats;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`${where}: the local path ${JSON.stringify(local)} does not exist (looked at ${path})`);
  }
  const entries: ImageFileEntry[] = [];
  let total = 0;
  const add = (file: string, rel: string) => {
    const s = statSync(file);
    total += s.size;
    if (total > MAX_PAYLOAD_BYTES)
      throw new UsageError(
        `${where}: the files come to more than ${formatBytes(MAX_PAYLOAD_BYTES)}, the most one step can add`,
      );
    entries.push({ path: rel, mode: s.mode & 0o777, data: readFileSync(file) });
  };
  if (kind === "file") {
    if (!st.isFile())
      throw new UsageError(`${where}: ${JSON.stringify(local)} is not a file (use addLocalDir for a folder)`);
    add(path, "");
  } else {
    if (!st.isDirectory())
      throw new UsageError(`${where}: ${JSON.stringify(local)} is not a folder (use addLocalFile)`);
    const walk = (dir: string, rel: string) => {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        const r = rel ? `${rel}/${name}` : name;
        const l = lstatSync(p);
        if (l.isDirectory()) walk(p, r);
        else if (l.isFile()) add(p, r);
        else if (l.isSymbolicLink() && statSync(p).isFile()) add(p, r); // the file it points to
      }
    };
    walk(path, "");
  }
  return encodeCbor(entries);
}

/**
 * Uploads the local files of each image step (relative paths are relative to the app file's
 * folder, `baseDir`) and builds every image the app's functions use,
 * printing each step (layer key, cached or built, duration, its output as it runs). Returns
 * the specs to publish: local paths replaced by uploaded blobs. A failing step throws.
 */
export async function buildImages(client: Client, specs: FunctionSpec[], baseDir: string): Promise<FunctionSpec[]> {
  const withImage = specs.filter((s) => s.options.image);
  if (withImage.length === 0) return specs;
  const forceAll = process.env.SKIFF_FORCE_BUILD === "1";
  const forceBuildId = newId("fb");
  const built = new Map<string, ImageWire>();
  const out: FunctionSpec[] = [];
  for (const spec of specs) {
    const image = spec.options.image;
    if (!image) {
      out.push(spec);
      continue;
    }
    const id = JSON.stringify(image);
    let ready = built.get(id);
    if (!ready) {
      ready = await uploadAndBuild(client, image, forceAll, forceBuildId, baseDir);
      built.set(id, ready);
    }
    out.push({ ...spec, options: { ...spec.options, image: ready } });
  }
  return out;
}

async function uploadAndBuild(
  client: Client,
  image: ImageWire,
  forceAll: boolean,
  forceBuildId: string,
  baseDir: string,
): Promise<ImageWire> {
  const steps = [];
  for (const [i, s] of image.steps.entries()) {
    const step = forceAll ? { ...s, forceBuild: true } : { ...s };
    if ((step.kind === "dir" || step.kind === "file") && step.local !== undefined) {
      const where = `Image step ${i + 1} (${imageStepLabel(step)})`;
      const data = packLocal(where, step.kind, step.local, baseDir);
      const { blobId } = await client.request("blob.put", { data }, { retryable: true });
      step.blobId = blobId;
      step.sha256 = createHash("sha256").update(data).digest("hex");
    }
    steps.push(step);
  }
  const wire: ImageWire = {
    base: image.base,
    steps,
    ...(steps.some((s) => s.forceBuild) ? { forceBuildId } : {}),
  };
  const buildId = newId("ib");
  const total = steps.length;
  const conn = client._connection;
  let atLineStart = true;
  conn.on("image.progress", (e: ImageBuildEvent) => {
    if (e.buildId !== buildId) return;
    const name = e.index === 0 ? "base" : `${e.index}/${total}`;
    if (e.kind === "step") {
      if (!e.cached) ui.info(`Building image step ${name}: ${e.label} ${ui.dim(`[${e.key.slice(0, 12)}]`)}`);
    } else if (e.kind === "output") {
      // The step's own output, as it comes, indented under its step.
      const text = e.text.replace(/\r/g, "\n");
      process.stderr.write(ui.dim((atLineStart ? "  │ " : "") + text.replace(/\n(?=.)/g, "\n  │ ")));
      atLineStart = text.endsWith("\n");
    } else {
      if (!atLineStart) process.stderr.write("\n");
      atLineStart = true;
      ui.step(
        e.cached
          ? `Image step ${name} cached ${ui.dim(`[${e.key.slice(0, 12)}]`)}`
          : `Image step ${name} built in ${(e.durationMs / 1000).toFixed(1)}s ${ui.dim(`[${e.key.slice(0, 12)}]`)}`,
      );
    }
  });
  const release = conn.hold();
  try {
    const res = await client.request("image.build", { image: wire, buildId });
    ui.step(
      `Image ready ${ui.dim(`[${res.key.slice(0, 12)}]`)}: ${res.steps.filter((s) => !s.cached).length} of ${res.steps.length} layer(s) built`,
    );
  } finally {
    release();
  }
  return wire;
}

/** The package an npm spec names ("sharp@0.34" -> "sharp", "@img/x@1" -> "@img/x"); undefined for URLs and paths. */
export function npmPackageName(spec: string): string | undefined {
  const m = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:@.*)?$/i.exec(spec);
  return m?.[1];
}

/**
 * Packages an image installs are resolved in the image, not where the app is deployed from
 * (api.md §1a): if the bundle took a local copy of one, bundle again with them external.
 */
export async function imagePackagesExternal(bundle: Bundle, specs: FunctionSpec[]): Promise<Bundle> {
  const names = new Set<string>();
  for (const s of specs) {
    for (const step of s.options.image?.steps ?? []) {
      if (step.kind !== "npm") continue;
      for (const spec of step.specs) {
        const n = npmPackageName(spec);
        if (n) names.add(n);
      }
    }
  }
  if (![...names].some((n) => bundle.packages.includes(n))) return bundle;
  return bundleApp(bundle.entry, [...new Set([...bundle.external, ...names])]);
}
