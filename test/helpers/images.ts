// Shared by the image tests: the suite's one image store (its base layer is built once per
// machine, by scripts/ensure-test-image.sh or by the first test that needs it), and readers
// of the CLI's build output.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { probeBuildTools } from "@skiff/worker";
import { REPO, scratchDir, writeApp } from "./cli.js";

export const IMAGES = join(REPO, ".skiff-cache", "images");
process.env.SKIFF_IMAGE_DIR = IMAGES;

/** Why this machine cannot build images (the tests skip, saying so), or undefined. */
export const cannotBuild = (() => {
  const t = probeBuildTools();
  return typeof t === "string" ? t : undefined;
})();

export function notChecked(what: string): void {
  if (cannotBuild) console.log(`NOT CHECKED: ${what} on this machine: ${cannotBuild}`);
}

/** A deploy takes minutes when the base layer is not built yet. */
export const BUILD_MS = 20 * 60_000;
export const nonce = () => randomBytes(6).toString("hex");

let dir: string | undefined;
/** Writes an app whose functions may use `image` (a TypeScript expression). */
export function imageApp(name: string, image: string, body: string): string {
  dir ??= scratchDir("images");
  return writeApp(
    dir,
    `${name}-${nonce()}.ts`,
    `import { App, Image } from "skiff";
import { existsSync, readFileSync } from "node:fs";
const image = ${image};
export const app = new App(${JSON.stringify(name)});
${body}
`,
  );
}

/** Image steps as the CLI printed them: "1/3 cached", "2/3 built". */
export function stepStates(stderr: string): string[] {
  return [...stderr.matchAll(/Image step (\S+) (cached|built)/g)].map((m) => `${m[1]} ${m[2]}`);
}

/** The 12-character key the CLI printed when it started building a step ("1/3", "base"). */
export function keyOf(stderr: string, step: string): string {
  const m = new RegExp(`Building image step ${step.replace("/", "\\/")}: .*\\[([0-9a-f]{12})\\]`).exec(stderr);
  assert.ok(m, `no build line for step ${step} in:\n${stderr}`);
  return m[1]!;
}
