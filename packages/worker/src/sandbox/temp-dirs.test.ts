import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { it } from "node:test";
import { processTempDir, smallTempBase } from "./temp-dirs.js";

it("removes the directories of processes that are gone, keeps live ones, names its own by pid", () => {
  const dead = spawnSync(process.execPath, ["-e", "0"]).pid!; // exited: its pid is free
  const gone = join(tmpdir(), `skiff-tdtest-${dead}-abc`);
  const live = join(tmpdir(), `skiff-tdtest-1-abc`); // pid 1 is always there
  mkdirSync(gone, { recursive: true });
  mkdirSync(live, { recursive: true });
  try {
    const mine = processTempDir("skiff-tdtest");
    assert.ok(basename(mine).startsWith(`skiff-tdtest-${process.pid}-`), mine);
    assert.ok(existsSync(mine));
    assert.ok(!existsSync(gone), "a dead process's directory is swept");
    assert.ok(existsSync(live), "a live process's directory is kept");
    rmSync(mine, { recursive: true });
  } finally {
    rmSync(gone, { recursive: true, force: true });
    rmSync(live, { recursive: true, force: true });
  }
});

it("makes them in memory (/dev/shm) where there is one, and sweeps the dead there and in the temp dir", () => {
  const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
  const base = smallTempBase();
  if (!process.env.TMPDIR && existsSync("/dev/shm")) assert.equal(base, "/dev/shm");
  const goneHere = join(base, `skiff-tdtest2-${dead}-abc`);
  const goneTmp = join(tmpdir(), `skiff-tdtest2-${dead}-def`);
  mkdirSync(goneHere, { recursive: true });
  mkdirSync(goneTmp, { recursive: true });
  try {
    const mine = processTempDir("skiff-tdtest2");
    assert.equal(join(mine, ".."), base);
    assert.ok(!existsSync(goneHere) && !existsSync(goneTmp), "both places are swept");
    rmSync(mine, { recursive: true });
  } finally {
    rmSync(goneHere, { recursive: true, force: true });
    rmSync(goneTmp, { recursive: true, force: true });
  }
});
