// Container processes are started by the server's command helper (packages/worker/src/sandbox/
// spawner.ts), not by the server: a fork of a server of a few hundred MiB held its event loop
// 10-35 ms per container start (bench/spawn-block.ts). They must still die with the server,
// kill -9 included.
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { childrenOf, commandHelperPid, containerPids, killPids } from "./helpers/procs.js";

type Sleeper = Function_<(ms: number) => Promise<number>>;

/** Running (a zombie, exited and not yet reaped by whoever adopted it, is not). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};

describe("container processes start in the command helper", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/restart-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(async () => {
    await server?.stop();
  });

  it("a container start does not fork the server: its process is the helper's child", async () => {
    const client = server.client();
    try {
      const sleeper = (await Function_.lookup("restart-app", "sleeper", { client })) as Sleeper;
      // One call first: the helper has long been ready by then, and the pool's refill after it
      // is started by the helper too (the pool made as the server started may be the server's).
      assert.equal(await sleeper.remote(10), 10);
      const helper = commandHelperPid(server.proc.pid!);
      assert.ok(helper, "the server runs a command helper");
      const before = new Set(childrenOf(server.proc.pid!));
      // A burst of four (maxContainers 4): containers from the pool and started for it.
      const calls = Promise.all([1, 2, 3, 4].map(() => sleeper.remote(1500)));
      await waitFor(async () => containerPids(server.proc.pid!).length >= 4, "four containers to run");
      const started = containerPids(server.proc.pid!).filter((p) => !before.has(p));
      const byHelper = new Set(childrenOf(helper));
      assert.ok(started.length >= 1, "containers were started for the burst");
      assert.deepEqual(
        started.filter((p) => !byHelper.has(p)),
        [],
        `container processes not started by the helper (${helper}): the server forked itself`,
      );
      assert.deepEqual(await calls, [1500, 1500, 1500, 1500]);
    } finally {
      client.close();
    }
  });
});

describe("containers started by the helper die with the server", () => {
  it("kill -9 of the server ends the helper and every container it started", async () => {
    const server = await startServer();
    let pids: number[] = [];
    try {
      const d = await skiff(["deploy", "test/fixtures/restart-app.ts"], { env: server.env });
      assert.equal(d.code, 0, d.stderr);
      const client = server.client();
      const sleeper = (await Function_.lookup("restart-app", "sleeper", { client })) as Sleeper;
      assert.equal(await sleeper.remote(10), 10);
      const calls = [1, 2, 3, 4].map(() => sleeper.remote(60_000).catch(() => undefined));
      const helper = commandHelperPid(server.proc.pid!)!;
      assert.ok(helper, "the server runs a command helper");
      await waitFor(
        async () => containerPids(server.proc.pid!).length >= 4 && childrenOf(helper).length >= 2,
        "the helper to run containers",
      );
      pids = [helper, ...containerPids(server.proc.pid!)];
      const sandboxes = pids.flatMap(childrenOf); // bubblewrap's child, pid 1 of each sandbox
      pids.push(...sandboxes);
      server.proc.kill("SIGKILL");
      await new Promise((r) => server.proc.once("exit", r));
      client.close();
      await waitFor(async () => pids.every((p) => !alive(p)), "the helper and the containers to be gone", 10_000).catch(
        () => {
          throw new Error(`still running after the server's kill -9: ${pids.filter(alive).join(" ")}`);
        },
      );
      await Promise.all(calls);
    } finally {
      killPids(pids);
      if (server.proc.exitCode === null && server.proc.signalCode === null) await server.stop();
      rmSync(server.home, { recursive: true, force: true });
    }
  });
});
