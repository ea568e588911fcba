import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { sandboxChildPid } from "./info-fd.js";

/** A stand-in for bubblewrap: its --info-fd JSON in two writes, some time apart, as bwrap 0.8 does. */
function writer(gapSeconds: number) {
  const script = `printf '{\\n    "child-pid": 4242,' >&3; sleep ${gapSeconds}; printf '\\n    "net-namespace": 1\\n}\\n' >&3; echo done`;
  return spawn("/bin/sh", ["-c", script], { stdio: ["ignore", "pipe", "inherit", "pipe"] });
}

describe("sandboxChildPid", () => {
  it("answers at the pid and keeps reading until the object is whole: the writer is not killed by SIGPIPE", async () => {
    const child = writer(0.2);
    assert.equal(await sandboxChildPid(child), 4242);
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, null, "the writer lived to write the rest");
    assert.equal(code, 0);
  });

  it("rejects when the writer ends before naming a pid", async () => {
    const child = spawn("/bin/sh", ["-c", "exit 0"], { stdio: ["ignore", "ignore", "inherit", "pipe"] });
    await assert.rejects(sandboxChildPid(child), /exited before it started/);
  });
});
