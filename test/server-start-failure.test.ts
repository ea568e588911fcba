// A server whose start fails part way leaves nothing behind: its process ends by itself (no
// listener kept open) and the data directory can be used again at once.
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO, runProcess, scratchDir } from "./helpers/cli.js";

describe("a server whose start fails", () => {
  it("a provider that throws: the start rejects with its error, the control socket is closed and removed, the process ends", async () => {
    const home = scratchDir("startfail");
    const dataDir = join(home, "data");
    const script = join(REPO, "test", `.start-failure-${process.pid}.mts`);
    writeFileSync(
      script,
      `import { SkiffServer, SqliteStore } from "@skiff/server";
const start = () => SkiffServer.start({
  port: 0, host: "127.0.0.1", dataDir: ${JSON.stringify(dataDir)},
  store: (ctx) => new SqliteStore({ dataDir: ctx.dataDir }),
  provider: () => { throw new Error("no provider here"); },
  log: () => {},
});
for (const _ of [1, 2]) await start().then(() => console.log("started"), (e) => console.log("refused:", e.message));
`,
    );
    try {
      // Twice on the same data directory: the second is not refused as "another server is
      // running". Then the process must end by itself: a listener left open kept it up.
      const r = await runProcess(process.execPath, ["--import", "tsx", script], { cwd: REPO, timeoutMs: 20_000 });
      assert.equal(r.stdout, "refused: no provider here\nrefused: no provider here\n", r.stderr);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(existsSync(join(dataDir, "control.sock")), false, "the control socket file is removed");
    } finally {
      rmSync(script, { force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });
});
