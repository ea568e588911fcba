import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidError } from "./errors.js";
import { normalizeFunctionOptions } from "./function-options.js";
import { Image } from "./image.js";

describe("Image", () => {
  it("is immutable: each step returns a new image, the base is shared untouched", () => {
    const base = Image.debianSlim();
    const a = base.aptInstall("jq");
    const b = base.npmInstall("zod@3", { forceBuild: true });
    assert.deepEqual(base._wire().steps, []);
    assert.deepEqual(a._wire().steps, [{ kind: "apt", packages: ["jq"] }]);
    assert.deepEqual(b._wire().steps, [{ kind: "npm", specs: ["zod@3"], forceBuild: true }]);
  });

  it("records every step in order", () => {
    const img = Image.debianSlim()
      .runCommands("echo hi", "true")
      .env({ TZ: "UTC" })
      .workdir("/app")
      .addLocalDir("./assets", "/app/assets")
      .addLocalFile("m.json", "/app/m.json");
    assert.deepEqual(
      img._wire().steps.map((s) => s.kind),
      ["run", "env", "workdir", "dir", "file"],
    );
  });

  it("rejects bad input naming the step", () => {
    const i = Image.debianSlim().aptInstall("jq");
    assert.throws(() => i.env({ N: 3 as unknown as string }), /Image step 2 \(env\): N must be a string, got number/);
    assert.throws(
      () => i.addLocalDir("./a", "srv/a"),
      /Image step 2 \(addLocalDir "\.\/a" -> "srv\/a"\): the image path must be absolute .*"\/app\/srv\/a"/,
    );
    assert.throws(() => i.addLocalFile("x", "/a/../b"), /must not contain "\.\."/);
    assert.throws(() => i.workdir("app"), /Image step 2 \(workdir "app"\): the image path must be absolute/);
    assert.throws(
      () => i.aptInstall("jq; rm -rf /"),
      /Image step 2 \(aptInstall .*\): "jq; rm -rf \/" is not a Debian package name/,
    );
    assert.throws(() => i.npmInstall("--global"), /is not an npm package spec/);
    assert.throws(() => i.npmInstall(), /name at least one package/);
    assert.throws(() => i.runCommands(""), /non-empty string/);
    assert.throws(
      () => i.aptInstall("jq", { forceBuild: "yes" as unknown as boolean }),
      /forceBuild must be a boolean/,
    );
    assert.throws(() => i.aptInstall("jq", { force: true } as never), /unknown option "force"/);
  });

  it("is what a function's image option takes", () => {
    const { wire } = normalizeFunctionOptions("f", { image: Image.debianSlim().aptInstall("jq") });
    assert.deepEqual(wire.image, { base: "debian-slim", steps: [{ kind: "apt", packages: ["jq"] }] });
    assert.throws(() => normalizeFunctionOptions("f", { image: "debian" as never }), InvalidError);
  });
});
