import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { activeProfile, loadConfig, readProfiles, writeProfile } from "./config.js";

describe("client configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-config-"));
  const file = join(dir, "skiff.toml");

  it("prefers environment variables, then the active profile", async () => {
    await writeProfile(file, "a", { server_url: "http://a:1", token_id: "ia", token_secret: "sa" }, true);
    await writeProfile(
      file,
      "b",
      { server_url: "http://b:2", token_id: "ib", token_secret: "sb", environment: "dev" },
      false,
    );
    const base = { SKIFF_CONFIG_PATH: file };
    assert.equal((await loadConfig(base))!.serverUrl, "http://a:1");
    assert.equal((await loadConfig({ ...base, SKIFF_PROFILE: "b" }))!.environment, "dev");
    const env = await loadConfig({
      ...base,
      SKIFF_SERVER_URL: "http://env:3",
      SKIFF_TOKEN_ID: "x",
      SKIFF_TOKEN_SECRET: "y",
      SKIFF_ENVIRONMENT: "e",
    });
    assert.deepEqual(env, { serverUrl: "http://env:3", tokenId: "x", tokenSecret: "y", environment: "e" });
    await assert.rejects(loadConfig({ ...base, SKIFF_PROFILE: "nope" }), /names no profile \(have: a, b\)/);
  });

  it("keeps one active profile", async () => {
    await writeProfile(file, "b", { server_url: "http://b:2", token_id: "ib", token_secret: "sb" }, true);
    const profiles = await readProfiles(file);
    assert.equal(activeProfile(profiles, {})![0], "b");
    assert.equal(profiles.a!.active, undefined);
  });

  it("is undefined with nothing configured", async () => {
    assert.equal(await loadConfig({ SKIFF_CONFIG_PATH: join(dir, "missing.toml") }), undefined);
  });
});
