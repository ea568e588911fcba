// The command helper (packages/worker/src/sandbox/spawner.ts): the provider's NAT scripts and
// namespace removals run in it, not in a fork of the server. It must run them as the server
// did (stdin, stdout, failures), never outlive the server (kill -9 included), and a helper
// that dies must not lose the commands that come after it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { CommandHelper } from "@skiff/worker";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("CommandHelper", () => {
  it("runs commands in its own process once ready: stdin in, stdout and failures out", async () => {
    const h = new CommandHelper();
    try {
      // Before it is ready, commands run from this process (a fork of it).
      assert.equal((await h.run("/bin/sh", ["-c", "echo $PPID"])).stdout.trim(), String(process.pid));
      h.start();
      await until("the helper to be ready", () => h.usingHelper);
      const helperPid = h.pid!;
      assert.notEqual(helperPid, process.pid);
      assert.equal((await h.run("/bin/sh", ["-c", "echo $PPID"])).stdout.trim(), String(helperPid));
      const out = await h.run("/bin/sh", ["-c", "cat; echo note >&2"], "route add prohibit 10.0.0.1/32\n");
      assert.equal(out.stdout, "route add prohibit 10.0.0.1/32\n");
      assert.equal(out.stderr, "note\n");
      await assert.rejects(h.run("/bin/sh", ["-c", "echo 'no such namespace' >&2; exit 3"]), (err: Error) => {
        const e = err as Error & { code?: unknown; stderr?: string };
        assert.equal(e.code, 3);
        assert.match(e.stderr ?? "", /no such namespace/);
        return true;
      });
      h.close();
      await until("the helper to exit once closed", () => !alive(helperPid));
    } finally {
      h.close();
    }
  });

  it("a helper killed mid-command fails that command, and later ones run without it", async () => {
    const h = new CommandHelper();
    try {
      h.start();
      await until("the helper to be ready", () => h.usingHelper);
      const running = h.run("/bin/sh", ["-c", "sleep 3"]);
      process.kill(h.pid!, "SIGKILL");
      await assert.rejects(running, /command helper exited/);
      await until("the helper to be seen gone", () => !h.usingHelper);
      assert.equal((await h.run("/bin/echo", ["after"])).stdout, "after\n");
    } finally {
      h.close();
    }
  });

  it("exits with its server, even one killed with SIGKILL while a command runs", async () => {
    const code = `
      import { CommandHelper } from "@skiff/worker";
      const h = new CommandHelper();
      h.start();
      // Once ready, a long command is out in the helper when the server dies: it must not wait for it.
      const t = setInterval(() => {
        if (!h.usingHelper) return;
        clearInterval(t);
        h.run("/bin/sh", ["-c", "sleep 30"]).catch(() => {});
        console.log(h.pid);
      }, 10);
      setInterval(() => {}, 1000);
    `;
    const server = spawn(process.execPath, ["--input-type=module", "-e", code], {
      cwd: new URL("..", import.meta.url),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [line] = (await once(server.stdout!.setEncoding("utf8"), "data")) as [string];
    const helperPid = Number(line.trim());
    assert.ok(helperPid > 0 && alive(helperPid), "the helper runs beside its server");
    server.kill("SIGKILL");
    await once(server, "exit");
    await until("the helper to exit after its server was killed", () => !alive(helperPid), 3000);
  });

  it("starts processes for the server: pid, stdin, stdout, stderr and a 4th pipe handed over, kill and exit reported", async () => {
    const h = new CommandHelper();
    try {
      assert.equal(h.spawn("/bin/true", [], { env: {}, cwd: "/", fds: 3 }), undefined, "not before it is ready");
      h.start();
      await until("the helper to be ready", () => h.usingHelper);
      const script = 'echo "ppid $PPID" >&3; exec 3>&-; read line; echo "got $line"; echo oops >&2; exit 5';
      const c = h.spawn("/bin/sh", ["-c", script], { env: { PATH: "/usr/bin:/bin" }, cwd: "/", fds: 4 })!;
      const text = (s: NodeJS.ReadableStream) => {
        let t = "";
        s.setEncoding("utf8");
        s.on("data", (d: string) => (t += d));
        return new Promise<string>((r) => s.on("end", () => r(t)));
      };
      const [info, out, err] = [text(c.stdio[3]!), text(c.stdout), text(c.stderr)];
      // Written before the helper has handed the pipe over: it waits, and is not lost.
      c.stdin.end("assignment\n");
      const [code] = (await once(c, "exit")) as [number];
      assert.equal(code, 5);
      assert.equal(await info, `ppid ${h.pid}\n`, "its parent is the helper, not this process");
      assert.equal(await out, "got assignment\n");
      assert.equal(await err, "oops\n");
      assert.ok(c.pid && c.pid !== h.pid);

      const sleeper = h.spawn("/bin/sh", ["-c", "exec sleep 30"], { env: {}, cwd: "/", fds: 3 })!;
      await until("its pid", () => sleeper.pid !== undefined);
      sleeper.kill("SIGKILL");
      const [, signal] = (await once(sleeper, "exit")) as [number | null, string];
      assert.equal(signal, "SIGKILL");
    } finally {
      h.close();
    }
  });

  it("a helper that dies takes what it started with it, reported as exits; later starts fall back", async () => {
    const h = new CommandHelper();
    try {
      h.start();
      await until("the helper to be ready", () => h.usingHelper);
      const c = h.spawn("/bin/sh", ["-c", "exec sleep 30"], { env: {}, cwd: "/", fds: 3 })!;
      await until("its pid", () => c.pid !== undefined);
      const pid = c.pid!;
      const exited = once(c, "exit");
      process.kill(h.pid!, "SIGKILL");
      await exited;
      await until("the process it started to be gone", () => !alive(pid));
      await until("the helper to be seen gone", () => !h.usingHelper);
      assert.equal(h.spawn("/bin/true", [], { env: {}, cwd: "/", fds: 3 }), undefined, "the caller spawns it then");
    } finally {
      h.close();
    }
  });
});
