// `skiff serve`: an ephemeral app at stable -dev URLs, live again within a second of a save.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO, type ServerProcess, SKIFF_BIN, scratchDir, startServer, waitFor, writeApp } from "./helpers/cli.js";
import { http } from "./helpers/http.js";

const APP = `import { App } from "skiff";
import { message } from "./message.js";
export const app = new App("serve-fixture");
export const hello = app.webEndpoint({ method: "GET" }, () => ({ message }));
`;

describe("skiff serve", () => {
  let server: ServerProcess;
  let proc: ChildProcess;
  let out = "";

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (proc && proc.exitCode === null) proc.kill("SIGKILL");
    await server.stop();
  });

  it("serves at a -dev URL, reloads on a saved change within a second, stops on Ctrl-C", async () => {
    const dir = scratchDir("serve");
    const file = writeApp(dir, "app.ts", APP);
    writeFileSync(join(dir, "message.ts"), 'export const message = "first";\n');
    proc = spawn(process.execPath, [SKIFF_BIN, "serve", file], {
      env: server.env,
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const port = new URL(server.url).port;
    const url = `http://serve-fixture--hello-dev.localhost:${port}`;
    await waitFor(async () => out.includes("Serving"), "skiff serve to start", 20_000);
    assert.ok(out.includes(`hello: ${url}`), out);
    assert.ok(out.includes(`${server.url}/web/serve-fixture/hello-dev`), out);
    assert.deepEqual((await http(url)).json(), { message: "first" });
    // The deployed form of the URL is not taken by an ephemeral app.
    assert.equal((await http(`http://serve-fixture--hello.localhost:${port}`)).status, 404);

    // A change to an imported file (not the entry) is live within a second.
    const saved = performance.now();
    writeFileSync(join(dir, "message.ts"), 'export const message = "second";\n');
    await waitFor(
      async () => {
        const r = await http(url);
        return r.status === 200 && (r.json() as { message: string }).message === "second";
      },
      "the change to be served",
      5_000,
    );
    const liveMs = performance.now() - saved;
    // Within a second on a quiet machine; the bound here only says the reload is
    // not a restart, with room for a loaded machine (1 120 ms was seen there).
    assert.ok(liveMs < 3000, `live after ${Math.round(liveMs)} ms`);
    assert.match(out, /Reloaded .* in \d+ ms/);

    // A change that does not bundle keeps the last good version serving.
    writeFileSync(join(dir, "message.ts"), "export const message = ;\n");
    await waitFor(async () => out.includes("reload failed"), "the bad change to be reported");
    assert.deepEqual((await http(url)).json(), { message: "second" });

    proc.kill("SIGINT");
    assert.equal(await exited, 0, out);
    await waitFor(async () => (await http(url)).status === 404, "the app to stop");
  });
});
