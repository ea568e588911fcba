// Images (issue 10), each figure beside its baseline in the same run:
// - redeploy with the image unchanged: `skiff deploy` time beside the same deploy without an image;
// - cold start (no container -> first result) in the image beside the same function without one;
// - disk: bytes each layer holds itself (unchanged files are hard links to the parent's);
// - with BENCH_IMAGE_FIRST=1 (minutes): a first build of Image.debianSlim().aptInstall("jq")
//   .npmInstall("zod") into an empty store, beside the same steps by hand (mmdebstrap, then
//   apt-get and npm install in bubblewrap, into one directory).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleApp, loadApps, publishApp } from "@skiff/cli";
import { LocalImageBuilder } from "@skiff/worker";
import type { Function_ } from "skiff";
import { image } from "./apps/image-trivial.js";
import { REPO, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 15);
const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 5);
const IMAGE_DIR = process.env.SKIFF_IMAGE_DIR ?? join(REPO, ".skiff-cache", "images");
process.env.SKIFF_IMAGE_DIR = IMAGE_DIR;

const server = await startSkiffServer();
const BIN = join(REPO, "packages/cli/bin/skiff.js");
const deploy = (file: string): number => {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, "deploy", file], { env: server.env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`deploy ${file} failed:\n${r.stderr}`);
  return performance.now() - t;
};

async function coldStarts(file: string): Promise<number[]> {
  const bundle = await bundleApp(file);
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const [app] = await loadApps(bundle);
    const res = await publishApp(server.client, app!, bundle, "ephemeral", "main");
    const square = app!._function("square")! as unknown as Function_<(x: number) => Promise<number>>;
    const t = performance.now();
    const y = await square.remote(3);
    out.push(performance.now() - t);
    if (y !== 9) throw new Error("wrong result");
    await server.client.request("app.stop", { appId: res.appId, environment: "main" });
  }
  return out;
}

let firstDeploy = 0;
let plain: number[] = [];
let inImage: number[] = [];
let coldPlain: number[] = [];
let coldImage: number[] = [];
try {
  firstDeploy = deploy("bench/apps/image-trivial.ts"); // builds what the store lacks
  plain = Array.from({ length: DEPLOYS }, () => deploy("bench/apps/trivial.ts"));
  inImage = Array.from({ length: DEPLOYS }, () => deploy("bench/apps/image-trivial.ts"));
  coldPlain = await coldStarts("bench/apps/trivial.ts");
  coldImage = await coldStarts("bench/apps/image-trivial.ts");
} finally {
  await server.stop();
}

const p = summarize(plain);
const d = summarize(inImage);
console.log(
  `images: redeploy with the image unchanged, ${DEPLOYS} deploys each (first deploy, building what was missing: ${ms(firstDeploy)})`,
);
console.log(`  skiff deploy, no image          p50 ${ms(p.p50)}`);
console.log(`  skiff deploy, image unchanged   p50 ${ms(d.p50)}   added ${ms(d.p50 - p.p50)}   (target: added <= 1 s)`);
const cp = summarize(coldPlain);
const ci = summarize(coldImage);
console.log(`images: cold start, ${N} calls each to a function with no container`);
console.log(`  no image                        p50 ${ms(cp.p50)}  p99 ${ms(cp.p99)}`);
console.log(`  in the image                    p50 ${ms(ci.p50)}  p99 ${ms(ci.p99)}`);
console.log(`  ratio image / no image          p50 ${(ci.p50 / cp.p50).toFixed(2)}x   (target: <= 1.2x and <= 150 ms)`);

// Disk: what each layer of the image holds itself.
const builder = new LocalImageBuilder({ dir: IMAGE_DIR });
const built = await builder.build(image._wire(), () => undefined);
console.log("images: disk, bytes each layer holds itself (the rest are hard links to its parent's files)");
for (const s of built.steps) {
  const l = builder.store.get(s.key)!;
  console.log(`  ${s.label.padEnd(32)} ${(l.bytes / 1024 / 1024).toFixed(1).padStart(7)} MiB  [${s.key.slice(0, 12)}]`);
}
builder.close();

if (process.env.BENCH_IMAGE_FIRST === "1") {
  const scratch = mkdtempSync(join(tmpdir(), "skiff-bench-image-"));
  try {
    // By hand: the same three steps, one directory, no layers, no caches.
    const root = join(scratch, "hand");
    const t0 = performance.now();
    const run = (file: string, args: string[]) => {
      const r = spawnSync(file, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${file} failed: ${r.stderr.slice(-2000)}`);
    };
    run("mmdebstrap", ["--mode=unshare", "--variant=minbase", "bookworm", root]);
    const inRoot = (cmd: string) =>
      run("bwrap", [
        "--unshare-user",
        "--uid",
        "0",
        "--gid",
        "0",
        "--unshare-pid",
        "--share-net",
        "--cap-add",
        "ALL",
        "--bind",
        root,
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        "/etc/resolv.conf",
        "/etc/resolv.conf",
        "--ro-bind",
        process.execPath,
        "/usr/local/bin/node",
        "--ro-bind",
        join(process.execPath, "../../lib/node_modules/npm"),
        "/usr/local/lib/npm",
        ...(process.env.NODE_EXTRA_CA_CERTS
          ? [
              "--ro-bind",
              process.env.NODE_EXTRA_CA_CERTS,
              "/tmp/ca.crt",
              "--setenv",
              "NODE_EXTRA_CA_CERTS",
              "/tmp/ca.crt",
            ]
          : []),
        "--setenv",
        "PATH",
        "/usr/local/bin:/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/root",
        "--setenv",
        "DEBIAN_FRONTEND",
        "noninteractive",
        "--",
        "/bin/sh",
        "-c",
        cmd,
      ]);
    inRoot(
      "apt-get -o APT::Sandbox::User=root update -q && apt-get -o APT::Sandbox::User=root install -y -q --no-install-recommends jq",
    );
    inRoot(
      "mkdir -p /opt/npm && cd /opt/npm && echo '{}' > package.json && node /usr/local/lib/npm/bin/npm-cli.js install --no-audit --no-fund zod@3.23.8",
    );
    const hand = performance.now() - t0;
    // The builder, into an empty store.
    const fresh = new LocalImageBuilder({ dir: join(scratch, "store") });
    const t1 = performance.now();
    const r = await fresh.build(image._wire(), () => undefined);
    const skiffMs = performance.now() - t1;
    fresh.close();
    console.log('images: first build of debianSlim().aptInstall("jq").npmInstall("zod"), empty caches');
    console.log(`  by hand (mmdebstrap, apt-get, npm)   ${ms(hand)}`);
    console.log(`  skiff builder (${r.steps.length} layers)          ${ms(skiffMs)}`);
    console.log(`  ratio skiff / by hand                ${(skiffMs / hand).toFixed(2)}x   (target: <= 1.2x)`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
