import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { detectLimiter, limitsFor, MEMORY_SLACK_MIB, wrapCommand } from "./limits.js";

describe("container limits", () => {
  it("joins the cgroup before exec, and makes the process the OOM killer's first choice", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-limits-"));
    try {
      const files = [join(dir, "a.procs"), join(dir, "b.procs")];
      for (const f of files) writeFileSync(f, "");
      const cg = { procsFiles: files, oomKilled: () => false, memoryBytes: () => undefined, remove: async () => {} };
      const { file, args } = wrapCommand("/bin/sh", ["-c", 'echo "$$ $(cat /proc/self/oom_score_adj)"'], cg);
      const [pid, adj] = execFileSync(file, args, { encoding: "utf8" }).trim().split(" ");
      // The exec'd command is the same process that wrote its pid into each cgroup.procs.
      for (const f of files) assert.equal(readFileSync(f, "utf8").trim(), pid);
      assert.equal(adj, "1000");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start a container it could not put in its cgroup", () => {
    const cg = {
      procsFiles: ["/nonexistent/cgroup.procs"],
      oomKilled: () => false,
      memoryBytes: () => undefined,
      remove: async () => {},
    };
    const { file, args } = wrapCommand("/bin/echo", ["ran"], cg);
    const r = spawnSync(file, args, { encoding: "utf8" });
    assert.equal(r.status, 125);
    assert.equal(r.stdout, "", "the command did not run");
  });

  it("caps memory at memoryMiB plus slack, else at half the host", () => {
    assert.equal(limitsFor(128).memoryBytes, (128 + MEMORY_SLACK_MIB) * 1024 * 1024);
    assert.ok(limitsFor(undefined).memoryBytes >= 512 * 1024 * 1024);
    assert.equal(limitsFor(undefined).pids, 512);
  });

  it("says why when there is nothing to enforce with", () => {
    assert.equal(detectLimiter("none").kind, "none");
    const empty = mkdtempSync(join(tmpdir(), "skiff-nocg-"));
    try {
      const l = detectLimiter("auto", empty);
      assert.equal(l.kind, "none");
      assert.match(l.description, /no cgroup v1 memory and pids hierarchies/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("a cgroup parent left with this server's pid (pids are reused) does not keep containers out of their cgroup", (t) => {
    // A cgroup v2 tree in a temp dir: the controllers delegated where this process's cgroup is.
    const own = /^0::(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1];
    if (own === undefined) {
      t.skip("NOT CHECKED: /proc/self/cgroup has no cgroup v2 line to build the fake tree on");
      return;
    }
    const root = mkdtempSync(join(tmpdir(), "skiff-fakecg-"));
    try {
      const here = join(root, own);
      mkdirSync(here, { recursive: true });
      for (const d of [root, here]) writeFileSync(join(d, "cgroup.controllers"), "memory pids");
      writeFileSync(join(here, "cgroup.subtree_control"), "memory pids");
      // What a server that had this pid before left behind (killed -9): its first container's cgroup.
      mkdirSync(join(here, `skiff-${process.pid}`, "ct-1"), { recursive: true });
      const l = detectLimiter("auto", root);
      assert.equal(l.kind, "cgroup-v2", l.description);
      const cg = l.create("ct-1", limitsFor(undefined));
      assert.ok(cg, "the container got its cgroup");
      assert.equal(readFileSync(join(here, `skiff-${process.pid}`, "ct-1", "pids.max"), "utf8"), "512");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
