// `skiff run` in a terminal and not: a progress line per running map on a TTY (through a real
// pseudo-terminal, util-linux `script`), none when output is piped; the embedded server's own
// lines only with --debug; a user's timeout reported once.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, describe, it } from "node:test";
import { bareEnv, runProcess, SKIFF_BIN, scratchDir, skiff } from "./helpers/cli.js";

const APP = "test/fixtures/progress-app.ts";
/** The terminal's escape character (lines redrawn in place: ESC[nA ESC[J). */
const ESC = String.fromCharCode(27);

describe("skiff run: progress and quiet internals", () => {
  const home = scratchDir("progress");
  const env = bareEnv(home);
  after(() => rmSync(home, { recursive: true, force: true }));

  it("on a TTY: a live progress line for the map (done/total, rate, failures), redrawn in place", async () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(SKIFF_BIN)} run ${APP}`;
    const r = await runProcess("script", ["-qec", cmd, "/dev/null"], { env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout);
    const lines = [...r.stdout.matchAll(/map progress-app\.step: (\d+)\/60 \d+% \([\d.]+\/s(?:, (\d+) failed)?\)/g)];
    assert.ok(lines.length >= 2, `progress lines:\n${r.stdout}`);
    const done = lines.map((m) => Number(m[1]));
    assert.ok(done.at(-1)! > done[0]!, `progress moves: ${done.join(" ")}`);
    assert.ok(
      lines.some((m) => Number(m[2] ?? 0) > 0),
      "failures are counted",
    );
    assert.ok(new RegExp(`${ESC}\\[\\d+A${ESC}\\[J`).test(r.stdout), "lines are redrawn in place");
    assert.match(r.stdout, /map finished: 54 ok/);
    assert.doesNotMatch(r.stdout, /\[server\]/);
  });

  it("piped: no progress at all, just the output", async () => {
    const r = await skiff(["run", APP], { env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "map finished: 54 ok");
    assert.doesNotMatch(r.stderr, /map progress-app/);
    assert.ok(!r.stderr.includes(ESC), "no terminal escapes");
    assert.doesNotMatch(r.stderr, /\[server\]/);
  });

  it("a timeout is reported once, as a timeout; the server's re-queueing and cgroup lines only with --debug", async () => {
    const tenv = { ...env, PROGRESS_APP: "timeout" };
    const r = await skiff(["run", APP], { env: tenv, timeoutMs: 120_000 });
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.equal(out.match(/timed out/g)?.length, 1, out);
    assert.match(r.stderr, /FunctionTimeoutError: progress-app\.stuck timed out after 1s/);
    assert.doesNotMatch(out, /\[server\]|re-queueing|cgroup|ignored the signal/);
    const d = await skiff(["run", "--debug", APP], { env: tenv, timeoutMs: 120_000 });
    assert.equal(d.code, 1);
    assert.match(d.stderr, /\[server\] /);
  });
});
