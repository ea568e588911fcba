// The CLI as a new user meets it: help, the quickstart on an embedded server, one-line errors.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { bareEnv, REPO, runProcess, SKIFF_BIN, scratchDir, skiff, writeApp } from "./helpers/cli.js";

describe("skiff CLI without a server", () => {
  const home = scratchDir("cli-home");
  const env = bareEnv(home);

  it("npx skiff --help works from the repo root", async () => {
    const r = await runProcess("npx", ["skiff", "--help"], { env, cwd: REPO });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: skiff <command>/);
    assert.match(r.stdout, /deploy <app\.ts>/);
  });

  it("prints into a pipe whose reader has gone (`skiff --help | true`) without an EPIPE crash", async () => {
    // `true` exits before node has started, so every write of the help meets a closed pipe.
    const line = `"${process.execPath}" "${SKIFF_BIN}" --help | true; exit \${PIPESTATUS[0]}`;
    const r = await runProcess("bash", ["-c", line], { env });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
  });

  it("has every flag of skiff server and skiff worker in docs/reference.md, with a default", async () => {
    const doc = readFileSync(join(REPO, "docs/reference.md"), "utf8");
    for (const command of ["server", "worker"]) {
      const help = await skiff([command, "--help"], { env });
      assert.equal(help.code, 0, help.stderr);
      const flags = [...help.stdout.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!);
      assert.ok(flags.length > 10, help.stdout);
      const section = doc.slice(doc.indexOf(`## \`skiff ${command}\``)).split("\n## ")[0]!;
      for (const flag of flags) {
        // A table row whose first cell names it: | `--flag <n>` | default | what it is |
        const row = section.split("\n").find((l) => l.startsWith("| ") && l.split("|")[1]!.includes(`\`${flag}`));
        assert.ok(row, `skiff ${command} ${flag} is not in docs/reference.md`);
        assert.ok(row.split("|")[2]!.trim() !== "", `skiff ${command} ${flag} has no default in docs/reference.md`);
      }
    }
  });

  it("suggests the nearest command or flag, shows per-command help, and exits 2 on misuse", async () => {
    const none = await skiff([], { env });
    assert.equal(none.code, 2, "no command is a usage error");
    assert.match(none.stderr, /Usage: skiff <command>/);
    assert.equal(none.stdout, "");
    const typo = await skiff(["deplyo", "app.ts"], { env });
    assert.equal(typo.code, 2);
    assert.equal(typo.stderr.trim(), 'Error: unknown command "deplyo" (did you mean deploy?); see `skiff --help`');
    const sub = await skiff(["app", "lsit"], { env });
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /unknown command "lsit" \(did you mean list\?\); see `skiff app --help`/);
    const flag = await skiff(["server", "--prot", "0"], { env });
    assert.equal(flag.code, 2);
    assert.equal(
      flag.stderr.trim(),
      'Error: unknown option "--prot" (did you mean --port?); see `skiff server --help`',
    );
    const help = await skiff(["help", "run"], { env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: skiff run \[options\] <app\.ts>\[::function\] \[-- ARG\.\.\.\]/);
    assert.match(help.stdout, /--env <name>/);
    assert.equal((await skiff(["run", "--help"], { env })).stdout, help.stdout);
    const logsHelp = await skiff(["app", "logs", "--help"], { env });
    assert.match(logsHelp.stdout, /Usage: skiff app logs \[options\] <name>/);
    assert.match(logsHelp.stdout, /-f, --follow/);
    const missing = await skiff(["deploy"], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument "app\.ts"/);
    const extra = await skiff(["deploy", "a.ts", "--", "x"], { env });
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /skiff deploy takes no arguments after --/);
    const version = await skiff(["--version"], { env });
    assert.match(version.stdout, /^skiff \d+\.\d+\.\d+/);
  });

  it("runs the quickstart with an embedded server and stops it after", async () => {
    const r = await skiff(["run", "examples/quickstart.ts"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /squaring 42 in a container/);
    assert.match(r.stdout, /square\(42\) = 1764/);
  });

  it("SKIFF_TRACE=1 shows each phase; the warm pool's runtime starts before the store opens", async () => {
    const r = await skiff(["run", "examples/quickstart.ts"], { env: { ...env, SKIFF_TRACE: "1" } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /square\(42\) = 1764/);
    const phases = [...r.stderr.matchAll(/^\[trace (\d+\.\d)\] (.*)$/gm)].map((m) => ({
      at: Number(m[1]),
      what: m[2]!,
    }));
    const at = (what: string) => {
      const i = phases.findIndex((p) => p.what === what);
      assert.ok(i >= 0, `no "${what}" in:\n${r.stderr}`);
      return i;
    };
    // In order: the runtime's boot (~100 ms) overlaps the store's opening instead of following it.
    assert.ok(at("provider: spawn runtime (pool)") < at("server: store open"), r.stderr);
    assert.ok(at("cli loaded") < at("server: container hello"));
    assert.ok(at("server: container hello") < at("entrypoint done"));
    assert.ok(at("entrypoint done") < at("server: closed store"));
    assert.ok(at("server: closed store") < at("exit"));
    assert.ok(
      phases.every((p, i) => i === 0 || p.at >= phases[i - 1]!.at),
      "stamps only go forward",
    );
  });

  it("calls one function with JSON-or-string arguments after --", async () => {
    const dir = scratchDir("cli-args");
    const file = writeApp(
      dir,
      "args.ts",
      `import { App } from "skiff";
export const app = new App("args-app");
export const describeArgs = app.function(async (...args: unknown[]) => args.map((a) => typeof a + ":" + JSON.stringify(a)).join(" "));
export const square = app.function(async (x: number) => x * x);`,
    );
    const r = await skiff(["run", `${file}::describeArgs`, "--", "3", '{"a":1}', "hello", "true"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'number:3 object:{"a":1} string:"hello" boolean:true');
    const sq = await skiff(["run", `${file}::square`, "--", "3"], { env });
    assert.equal(sq.stdout.trim(), "9");
    const missing = await skiff(["run", `${file}::nope`], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /has no function "nope" \(it has: describeArgs, square\)/);
  });

  it("gives one clear line for mistakes, and the stack only with --debug", async () => {
    const r = await skiff(["run", "does-not-exist.ts"], { env });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), "Error: no such file: does-not-exist.ts");
    const dep = await skiff(["deploy", "examples/quickstart.ts"], { env });
    assert.equal(dep.code, 2);
    assert.match(dep.stderr, /no Skiff server configured/);
    assert.equal(dep.stderr.trim().split("\n").length, 3, dep.stderr); // two progress lines, one error
    const unknown = await skiff(["frobnicate"], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const flag = await skiff(["server", "--port", "abc"], { env });
    assert.match(flag.stderr, /--port must be an integer/);
  });

  it("names a project whose skiff is another version than the CLI's", async () => {
    const dir = scratchDir("cli-mismatch");
    mkdirSync(join(dir, "node_modules", "skiff"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "skiff", "package.json"), '{"name":"skiff","version":"9.9.9"}\n');
    const file = writeApp(dir, "app.ts", `import { App } from "skiff";\nexport const app = new App("mismatch");\n`);
    const r = await skiff(["deploy", file], { env });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr.trim(),
      /^Error: this project has skiff 9\.9\.9 \(\S+node_modules\/skiff\/package\.json\) but this skiff command is @skiff\/cli 0\.1\.0, which runs apps with skiff 0\.1\.0: install the same version of both \(npm i skiff@0\.1\.0 @skiff\/cli@0\.1\.0\)$/,
    );
  });

  it("rejects apps whose functions have no name, or two functions with one name", async () => {
    const unnamed = await skiff(["run", "test/fixtures/unnamed-app.ts::ok"], { env });
    assert.equal(unnamed.code, 1, unnamed.stderr);
    assert.match(
      unnamed.stderr,
      /has a function \(helper\) with no name: export it from the entry module, or pass \{ name/,
    );
    const dup = await skiff(["run", "test/fixtures/duplicate-app.ts::same"], { env });
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /two functions named "same"/);
  });

  it("refuses a volume mounted over a system directory, naming it", async () => {
    const r = await skiff(["run", "test/fixtures/volume-app.ts::useVolume"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a volume cannot be mounted at \/usr\/data \(a system directory\)/);
  });
});
