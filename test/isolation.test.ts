// The sandbox: what a function can and cannot reach on the host.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { REPO, type ServerProcess, skiff, startServer } from "./helpers/cli.js";

const hasBwrap = (() => {
  try {
    execFileSync("bwrap", ["--version"]);
    return true;
  } catch {
    return false;
  }
})();

describe("container isolation (bubblewrap)", () => {
  let server: ServerProcess;
  let read: Function_<(p: string) => Promise<number | string>>;
  let write: Function_<(p: string) => Promise<string>>;

  before(async () => {
    // The test command installs bubblewrap; a missing one is a failure here, not a skip.
    assert.ok(hasBwrap, "bubblewrap (bwrap) must be installed: scripts/ensure-system-deps.sh does it");
    server = await startServer({ args: ["--sandbox", "bubblewrap"] });
    assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
    const client = server.client();
    read = Function_.fromName("core-app", "tryRead", { client });
    write = Function_.fromName("core-app", "tryWrite", { client });
  });
  after(() => server?.stop());

  it("cannot read the server's data directory or the token store", async () => {
    assert.equal(await read.remote(join(server.dataDir, "skiff.db")), "error: ENOENT");
    assert.equal(await read.remote(server.env.SKIFF_CONFIG_PATH!), 0, "the config file reads as empty");
  });

  it("cannot write outside its work directory and /tmp", async () => {
    assert.equal(await write.remote("/etc/skiff-was-here"), "error: EROFS");
    assert.equal(await write.remote(join(REPO, "skiff-was-here")), "error: EROFS");
    assert.equal(await write.remote("/tmp/scratch"), "written");
  });

  it("does not see the host's /tmp (other apps' bundles, other containers)", async () => {
    // The CLI keeps its local copy of each bundle under the host's /tmp.
    const local = execFileSync("bash", ["-c", "ls -d /tmp/skiff-local-*/* | head -1"], {
      encoding: "utf8",
    }).trim();
    assert.ok(local, "expected a local bundle copy on the host");
    assert.equal(await read.remote(join(local, "bundle.mjs")), "error: ENOENT");
  });
});

describe("without a sandbox", () => {
  it("runs functions as plain processes when asked (--sandbox none)", async () => {
    const server = await startServer({ args: ["--sandbox", "none"] });
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const square = Function_.fromName<Function_<(x: number) => Promise<number>>>("core-app", "square", {
        client: server.client(),
      });
      assert.equal(await square.remote(5), 25);
    } finally {
      await server.stop();
    }
  });
});
