// `skiff shell` and `skiff container list|logs|exec` (api.md §9, issue 20), through the real
// CLI, server and sandboxed containers. The interactive shell is driven through a real
// pseudo-terminal (tmux), not only with --cmd.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import type * as ShellApp from "./fixtures/shell-app.js";
import {
  REPO,
  type ServerProcess,
  SKIFF_BIN,
  scratchDir,
  skiff,
  startServer,
  waitFor,
  writeApp,
} from "./helpers/cli.js";

const APP_FILE = "test/fixtures/shell-app.ts";

describe("containers: skiff shell, container list / logs / exec", () => {
  let server: ServerProcess;
  let work: Function_<typeof ShellApp.work extends Function_<infer F> ? F : never>;

  const containers = async () => {
    const { containers } = await server.client().request("container.list", { environment: "main" });
    return containers;
  };

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", APP_FILE], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    work = await Function_.lookup("shell-app", "work", { client: server.client() });
  });
  after(() => server.stop());

  it("container list shows the running containers; logs and exec reach one", async () => {
    assert.equal(await work.remote("first"), "first");
    const l = await skiff(["container", "list"], { env: server.env });
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /^ID\s+APP\s+FUNCTION\s+HOST\s+STATE\s+UPTIME\s+INPUTS$/m);
    const row = l.stdout.split("\n").find((x) => /\bshell-app\s+work\b/.test(x));
    assert.ok(row, l.stdout);
    assert.match(row, /^ct-\S+\s+shell-app\s+work\s+local:\S+\s+ready\s+\d+s\s+0$/);
    const id = row.split(/\s+/)[0]!;

    const logs = await waitFor(async () => {
      const r = await skiff(["container", "logs", id], { env: server.env });
      return /WORKED first/.test(r.stdout) && r;
    }, "the container's log line");
    assert.equal(logs.code, 0);

    // exec: the container's own environment (its env and secrets), and the command's status.
    const e = await skiff(["container", "exec", id, "--", "sh", "-c", "echo $FLAVOUR/$SHELL_TOKEN; exit 4"], {
      env: server.env,
    });
    assert.equal(e.stdout.trim(), "mint/s3cret");
    assert.equal(e.code, 4);
    // It is the same container that ran the input: the function's process is visible in it.
    const ps = await skiff(["container", "exec", id, "--", "sh", "-c", "cat /proc/*/cmdline | tr '\\0' ' '"], {
      env: server.env,
    });
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /runtime\/main\.js/);

    // logs --follow prints new lines as they come.
    const follow = spawn(process.execPath, [SKIFF_BIN, "container", "logs", id, "--follow", "--tail", "0"], {
      env: server.env,
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    follow.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    try {
      // The follow starts when the CLI has connected: call until a line shows up.
      let n = 0;
      await waitFor(
        async () => {
          await work.remote(`second-${n++}`);
          await new Promise((r) => setTimeout(r, 500));
          return /WORKED second-\d+/.test(out);
        },
        "a followed line",
        30_000,
      );
      assert.doesNotMatch(out, /WORKED first/, "--tail 0 printed old lines");
    } finally {
      follow.kill("SIGINT");
    }
  });

  it("container logs / exec of an unknown container, or exec with no command: clear errors", async () => {
    const a = await skiff(["container", "exec", "ct-nope", "--", "true"], { env: server.env });
    assert.equal(a.code, 1);
    assert.match(a.stderr, /no running container ct-nope: `skiff container list` shows the running ones/);
    const b = await skiff(["container", "logs", "ct-nope"], { env: server.env });
    assert.match(b.stderr, /no running container ct-nope/);
    const c = await skiff(["container", "exec", "ct-nope"], { env: server.env });
    assert.equal(c.code, 2);
    assert.match(c.stderr, /give the command after --/);
    const id = (await containers())[0]!.containerId;
    const d = await skiff(["container", "exec", id, "--", "/no/such/program"], { env: server.env });
    assert.equal(d.code, 1);
    assert.match(d.stderr, /cannot run "\/no\/such\/program"/);
  });

  it("shell --cmd runs in a new container with the function's env and secrets, exits with its status, and removes it", async () => {
    const before = new Set((await containers()).map((c) => c.containerId));
    const r = await skiff(
      ["shell", `${APP_FILE}::work`, "--cmd", "echo env=$FLAVOUR secret=$SHELL_TOKEN; test -e /proc/1; exit 5"],
      { env: server.env, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /env=mint secret=s3cret/);
    // Removed on exit: no container of it is left (the run's own ephemeral app is stopped too).
    await waitFor(
      async () => (await containers()).every((c) => before.has(c.containerId)),
      "the shell's container to go",
    );
    // An app with one function needs no ::fn.
    const dir = scratchDir("shell-one");
    const one = writeApp(
      dir,
      "one.ts",
      // Its top level leaves a mark where it runs in a container (WHO is the function's env).
      `import { writeFileSync } from "node:fs";\nimport { App } from "skiff";\nif (process.env.WHO === "only") writeFileSync("/tmp/top-level-ran", "");\nexport const app = new App("shell-one");\nexport const only = app.function({ env: { WHO: "only" } }, async () => 1);\n`,
    );
    const o = await skiff(
      ["shell", one, "--cmd", "echo who=$WHO; test -e /tmp/top-level-ran && echo TOP-LEVEL-RAN; true"],
      {
        env: server.env,
        timeoutMs: 60_000,
      },
    );
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /who=only/);
    // A shell's container runs none of the app's code (its runtime is not handed the bundle).
    assert.doesNotMatch(o.stdout, /TOP-LEVEL-RAN/);
  });

  it("shell on a web endpoint, a missing function, or an app of several without ::fn: clear errors", async () => {
    const w = await skiff(["shell", `${APP_FILE}::hello`, "--cmd", "true"], { env: server.env });
    assert.equal(w.code, 2);
    assert.match(w.stderr, /shell-app\.hello is a web endpoint: skiff shell opens a shell in a function's container/);
    const m = await skiff(["shell", `${APP_FILE}::nope`, "--cmd", "true"], { env: server.env });
    assert.equal(m.code, 2);
    assert.match(m.stderr, /app "shell-app" has no function "nope" \(it has: work, other, hello\)/);
    const s = await skiff(["shell", APP_FILE, "--cmd", "true"], { env: server.env });
    assert.equal(s.code, 2);
    assert.match(s.stderr, /has 3 functions: name one/);
    // The server refuses a web endpoint too (a client that skips the CLI's check).
    const web = await Function_.lookup("shell-app", "hello", { client: server.client() });
    await assert.rejects(
      server.client().request("shell.open", { functionId: web.objectId, tty: false }),
      /is a web endpoint/,
    );
  });

  it("an interactive shell in a real terminal: line editing, Ctrl-C to the shell, window size, exit status", async () => {
    const sock = `skiff-test-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync("tmux", ["-L", sock, ...args], { encoding: "utf8" });
    const screen = () => tmux("capture-pane", "-p", "-S", "-200");
    const envs = Object.entries(server.env)
      .filter(([k]) => k === "HOME" || k.startsWith("SKIFF_") || k === "PATH")
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
    const cmd = `cd ${JSON.stringify(REPO)} && env ${envs} TERM=xterm ${JSON.stringify(process.execPath)} ${SKIFF_BIN} shell ${APP_FILE}::work; echo SHELL-EXITED=$?; sleep 60`;
    tmux("new-session", "-d", "-x", "120", "-y", "40", cmd);
    try {
      const until = (re: RegExp, what: string) =>
        waitFor(async () => re.test(screen()), `${what}; screen:\n${screen()}`, 30_000);
      await until(/[#$] ?$/m, "the shell's prompt");
      // A shell container is listed as such while it runs.
      const listed = await skiff(["container", "list"], { env: server.env });
      assert.match(listed.stdout, /shell-app\s+work\s+local:\S+\s+shell\s/);
      // Line editing: type the end of the line, jump to its start (Ctrl-A), add the start.
      tmux("send-keys", "cho edited-$FLAVOUR", "C-a", "e", "Enter");
      await until(/^edited-mint\s*$/m, "the edited line's output");
      // Ctrl-C reaches the shell: it stops the foreground job, and the shell lives on.
      tmux("send-keys", "sleep 300; echo not-interrupted", "Enter");
      await new Promise((r) => setTimeout(r, 500));
      tmux("send-keys", "C-c");
      tmux("send-keys", "echo alive-after-ctrl-c", "Enter");
      await until(/^alive-after-ctrl-c\s*$/m, "the shell after Ctrl-C");
      assert.doesNotMatch(screen(), /^not-interrupted/m);
      // Window size: the terminal's, and a resize follows.
      tmux("send-keys", "stty size", "Enter");
      await until(/^40 120\s*$/m, "the initial size");
      tmux("resize-window", "-x", "100", "-y", "30");
      await new Promise((r) => setTimeout(r, 300));
      tmux("send-keys", "clear; stty size", "Enter");
      await until(/^30 100\s*$/m, "the new size");
      tmux("send-keys", "exit 7", "Enter");
      await until(/SHELL-EXITED=7/, "the shell's exit status");
      await waitFor(
        async () => !(await containers()).some((c) => c.state === "shell"),
        "the shell's container to be removed",
      );
    } finally {
      try {
        tmux("kill-server");
      } catch {}
    }
  });
});
