// forceBuild and SKIFF_FORCE_BUILD: a cached step built again, without touching other layers.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type RunResult, type ServerProcess, skiff, startServer } from "./helpers/cli.js";
import { BUILD_MS, cannotBuild, imageApp, notChecked, stepStates } from "./helpers/images.js";

notChecked("forceBuild");

describe("image builds: forceBuild", { skip: cannotBuild }, () => {
  let server: ServerProcess;
  const deploy = (file: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
    skiff(["deploy", file], { env: { ...server.env, ...env }, timeoutMs: BUILD_MS });

  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  it("forceBuild rebuilds a cached step every deploy, and SKIFF_FORCE_BUILD=1 every step but the base", {
    timeout: BUILD_MS,
  }, async () => {
    const file = imageApp(
      "img-force",
      `Image.debianSlim().runCommands("echo fixed > /fixed").runCommands("cat /proc/sys/kernel/random/uuid > /stamp", { forceBuild: true })`,
      `export const stamp = app.function({ image }, async () => readFileSync("/stamp", "utf8").trim());`,
    );
    const stamp = () =>
      Function_.fromName<Function_<() => Promise<string>>>("img-force", "stamp", { client: server.client() }).remote();
    const a = await deploy(file);
    assert.equal(a.code, 0, a.stderr);
    const s1 = await stamp();
    const b = await deploy(file);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(stepStates(b.stderr), ["base cached", "1/2 cached", "2/2 built"]);
    const s2 = await stamp();
    assert.notEqual(s1, s2, "the forced step ran again");
    const c = await deploy(file, { SKIFF_FORCE_BUILD: "1" });
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(stepStates(c.stderr), ["base cached", "1/2 built", "2/2 built"]);
  });
});
