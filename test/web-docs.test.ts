// Runs every curl example of docs/web.md against a real server with the documented apps
// deployed, and checks each against the output the doc shows (`# ` lines, `…` = anything).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { REPO, runProcess, type ServerProcess, skiff, startServer } from "./helpers/cli.js";

interface Example {
  line: number;
  script: string;
  expected: string[];
}

/** The ```sh blocks of a markdown file that run curl, with their `# ` output lines. */
function curlExamples(markdown: string): Example[] {
  const out: Example[] = [];
  const re = /^```sh\n([\s\S]*?)^```/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    const body = m[1]!;
    if (!body.includes("curl ")) continue;
    const lines = body.split("\n");
    out.push({
      line: markdown.slice(0, m.index).split("\n").length + 1,
      script: lines.filter((l) => !l.startsWith("# ")).join("\n"),
      expected: lines.filter((l) => l.startsWith("# ")).map((l) => l.slice(2)),
    });
  }
  return out;
}

function matches(pattern: string, actual: string): boolean {
  const re = pattern
    .split("…")
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${re}$`).test(actual);
}

describe("docs/web.md examples", () => {
  let server: ServerProcess;
  let env: NodeJS.ProcessEnv;
  const examples = curlExamples(readFileSync(`${REPO}/docs/web.md`, "utf8"));

  before(async () => {
    server = await startServer();
    for (const app of ["examples/shared-app.ts", "examples/web-hello.ts", "examples/greeter-app.ts"]) {
      const d = await skiff(["deploy", app], { env: server.env });
      assert.equal(d.code, 0, d.stderr);
    }
    const t = await skiff(["token", "new", "--web"], { env: server.env });
    assert.equal(t.code, 0, t.stderr);
    env = {
      ...server.env,
      SKIFF_TOKEN_ID: server.tokenId,
      SKIFF_TOKEN_SECRET: server.tokenSecret,
      WEB_TOKEN_ID: /token id:\s+(\S+)/.exec(t.stdout)![1]!,
      WEB_TOKEN_SECRET: /token secret:\s+(\S+)/.exec(t.stdout)![1]!,
    };
  });
  after(() => server.stop());

  it("the doc has curl examples for endpoints and for the JSON API", () => {
    assert.ok(examples.length >= 7, `${examples.length} examples`);
    assert.ok(examples.some((e) => e.script.includes("/v1/functions/")));
    assert.ok(examples.some((e) => e.script.includes("/spawn")) && examples.some((e) => e.script.includes("/cancel")));
    assert.ok(examples.some((e) => e.script.includes("/Greeter.greet/call") && e.script.includes('"params"')));
  });

  it("every curl example prints what the doc says", async () => {
    const port = new URL(server.url).port;
    for (const ex of examples) {
      // The doc uses the default port; the test server has its own.
      const script = `set -euo pipefail\n${ex.script.replaceAll(":7420", `:${port}`)}`;
      const r = await runProcess("bash", ["-c", script], { env, timeoutMs: 30_000 });
      assert.equal(r.code, 0, `docs/web.md:${ex.line}: ${r.stderr}`);
      const got = r.stdout.split("\n").filter((l) => l.trim() !== "");
      assert.equal(got.length, ex.expected.length, `docs/web.md:${ex.line}: got\n${r.stdout}`);
      ex.expected.forEach((want, i) => {
        assert.ok(matches(want, got[i]!), `docs/web.md:${ex.line}: expected ${want}\n got ${got[i]}`);
      });
    }
  });
});
