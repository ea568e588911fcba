import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readPidFile } from "./pid-file.js";

describe("readPidFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-pid-file-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it("reads a pid", () => {
    assert.equal(readPidFile(file("ok", "4242\n")), 4242);
  });

  it("is undefined for what would signal a process group or nothing: empty, 0, 1, negative, garbage, missing", () => {
    for (const [name, text] of [
      ["empty", ""],
      ["blank", " \n"],
      ["zero", "0\n"],
      ["init", "1"],
      ["negative", "-42"],
      ["garbage", "12ab"],
    ] as const)
      assert.equal(readPidFile(file(name, text)), undefined, `${name}: ${JSON.stringify(text)}`);
    assert.equal(readPidFile(join(dir, "missing")), undefined);
  });
});
