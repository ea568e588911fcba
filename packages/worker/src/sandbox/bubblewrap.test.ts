import assert from "node:assert/strict";
import { it } from "node:test";
import { BubblewrapSandbox } from "./bubblewrap.js";

it("hides only paths the sandbox shows: system directories and exposed ones, not the rest of the host", () => {
  const s = new BubblewrapSandbox("bwrap");
  assert.equal(s.hides("/etc/skiff.toml", []), true);
  assert.equal(s.hides("/usr/local/share/skiff/data", []), true);
  assert.equal(s.hides("/opt/node/etc/token", ["/opt/node"]), true);
  assert.equal(s.hides("/opt/node", ["/opt/node"]), true);
  // Not shown: the profile in a home directory, a data directory under /tmp or /var.
  assert.equal(s.hides("/root/.skiff.toml", []), false);
  assert.equal(s.hides("/tmp/skiff-home/skiff.toml", []), false);
  assert.equal(s.hides("/var/lib/skiff", []), false);
  // A prefix of a name is not its directory.
  assert.equal(s.hides("/etcetera/token", []), false);
  assert.equal(s.hides("/opt/nodejs/token", ["/opt/node"]), false);
});
