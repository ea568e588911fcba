// The object examples (examples/objects/) run as a new user would run them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";

describe("object examples", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());
  const run = async (file: string) => {
    const r = await skiff(["run", `examples/objects/${file}`], { env: server.env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  it("queue-workers: a producer and three consumers share the jobs, each job handled once", async () => {
    const out = await run("queue-workers.ts");
    const handled = [...out.matchAll(/consumer \d handled (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(handled.length, 3, out);
    assert.equal(
      handled.reduce((a, b) => a + b, 0),
      1000,
      out,
    );
  });

  it("dict-cache: the second app reads what the first computed", async () => {
    const a = await run("dict-cache-a.ts");
    assert.match(a, /n: 100,[^}]*cached: false/);
    assert.match(a, /n: 100,[^}]*cached: true/);
    const b = await run("dict-cache-b.ts");
    assert.match(b, /fib\(100\) has 21 digits/);
    assert.match(b, /fib\(200\) has 42 digits/);
  });

  it("volume writer and reader: the reader sees the file after reload()", async () => {
    await run("volume-writer.ts");
    const out = await run("volume-reader.ts");
    assert.match(out, /report for \d{4}-\d{2}-\d{2}/);
    assert.match(out, /daily\/\d{4}-\d{2}-\d{2}\.txt 22 bytes/);
  });
});
