// The bundled `skiff` command (packages/cli/scripts/bundle-cli.mjs, dist-bundle/): bin/skiff.js
// runs it, every command is in it and says what the module graph says, and bin falls back to
// the graph where tsc wrote something newer than the bundle. `skiff run` through the bundle is
// what the other CLI tests drive (test.sh builds it); test/packaging.test.ts runs it installed.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { bareEnv, REPO, runProcess, SKIFF_BIN } from "./helpers/cli.js";

const home = mkdtempSync(join(tmpdir(), "skiff-cli-bundle-"));
after(() => rmSync(home, { recursive: true, force: true }));
const bundled = bareEnv(home);
const graph = { ...bareEnv(home), SKIFF_CLI_UNBUNDLED: "1" };
const skiff = (args: string[], env: NodeJS.ProcessEnv) => runProcess(process.execPath, [SKIFF_BIN, ...args], { env });

describe("the bundled skiff command", () => {
  it("is what bin/skiff.js runs in a built checkout (a stack with --debug names dist-bundle/)", async () => {
    assert.ok(existsSync(join(REPO, "packages/cli/dist-bundle/main.js")), "run `npm run build` first");
    // No server configured: `app list` fails in connect(); --debug prints the stack.
    const b = await skiff(["app", "list", "--debug"], bundled);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /no Skiff server configured/);
    assert.match(b.stderr, /packages\/cli\/dist-bundle\/[\w-]+\.js/);
    assert.doesNotMatch(b.stderr, /packages\/cli\/dist\//);
    const g = await skiff(["app", "list", "--debug"], graph);
    assert.equal(g.code, 2, g.stderr);
    assert.match(g.stderr, /packages\/cli\/dist\/connect\.js/);
  });

  it("has every command: `--help` of each, as the module graph prints it", async () => {
    const top = await skiff(["--help"], graph);
    assert.equal(top.code, 0, top.stderr);
    // The command lines of `skiff --help`: two spaces, the name, its usage. Each is one file of
    // commands/ (an entry point of the bundle); its subcommands come from the same file.
    const names = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((n) => n !== "help");
    assert.ok(names.length >= 10 && names.includes("run") && names.includes("server"), names.join(" "));
    const queue = [[], ...names.map((n) => [n])];
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        const [b, g] = await Promise.all([skiff([...p, "--help"], bundled), skiff([...p, "--help"], graph)]);
        assert.equal(b.code, 0, `skiff ${p.join(" ")} --help (bundled): ${b.stderr}`);
        assert.equal(b.stdout, g.stdout, `skiff ${p.join(" ")} --help differs`);
        assert.equal(b.stderr, g.stderr);
      }
    };
    await Promise.all([worker(), worker()]);
  });

  it("prints its version, exits 2 for an unknown command, as the graph does", async () => {
    for (const args of [["--version"], ["no-such-command"], ["run"]]) {
      const [b, g] = await Promise.all([skiff(args, bundled), skiff(args, graph)]);
      assert.deepEqual(b, g, args.join(" "));
    }
  });
});

describe("bin/skiff.js chooses the bundle only when it is up to date", () => {
  // A package laid out as the CLI's: bin/skiff.js (the real one), dist/main.js and
  // dist-bundle/main.js that say which ran, and the stamp tsc writes (dist/.tsbuildinfo).
  const pkg = mkdtempSync(join(tmpdir(), "skiff-cli-bin-"));
  after(() => rmSync(pkg, { recursive: true, force: true }));
  for (const d of ["bin", "dist", "dist-bundle"]) mkdirSync(join(pkg, d));
  copyFileSync(SKIFF_BIN, join(pkg, "bin/skiff.js"));
  writeFileSync(join(pkg, "package.json"), '{"type":"module"}\n');
  const mainFile = (which: string) =>
    `export async function main(argv) { console.log("${which}", argv.join(" ")); return 3; }\n`;
  writeFileSync(join(pkg, "dist/main.js"), mainFile("graph"));
  writeFileSync(join(pkg, "dist-bundle/main.js"), mainFile("bundle"));
  writeFileSync(join(pkg, "dist/.tsbuildinfo"), "{}");
  const stamps = join(pkg, "dist-bundle/stamps.json");
  const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);
  const bin = (env: NodeJS.ProcessEnv = bareEnv(home)) =>
    runProcess(process.execPath, [join(pkg, "bin/skiff.js"), "a", "b"], { env });

  it("runs the bundle when its stamps are no newer than it, with the arguments and exit code", async () => {
    writeFileSync(stamps, '["../dist/.tsbuildinfo"]\n');
    at(join(pkg, "dist/.tsbuildinfo"), 1_000);
    at(stamps, 2_000);
    const r = await bin();
    assert.equal(r.stdout, "bundle a b\n");
    assert.equal(r.code, 3);
    assert.equal((await bin({ ...bareEnv(home), SKIFF_CLI_UNBUNDLED: "1" })).stdout, "graph a b\n");
  });

  it("runs the module graph when tsc wrote after the bundle was made, or there is no bundle", async () => {
    writeFileSync(stamps, '["../dist/.tsbuildinfo"]\n');
    at(stamps, 2_000);
    at(join(pkg, "dist/.tsbuildinfo"), 3_000);
    assert.equal((await bin()).stdout, "graph a b\n");
    rmSync(stamps);
    assert.equal((await bin()).stdout, "graph a b\n");
  });
});
