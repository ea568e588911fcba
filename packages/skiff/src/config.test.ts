import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import "./node/index.js"; // the config file is read by the node entry
import { activeProfile, findConfig, loadConfig, readProfiles, writeProfile } from "./config.js";

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

  it("says where a configuration came from, and names a malformed server URL and its source", async () => {
    const f = join(dir, "urls.toml");
    await writeProfile(f, "lab", { server_url: "lab.example:7420", token_id: "i", token_secret: "s" }, true);
    await assert.rejects(
      findConfig({ SKIFF_CONFIG_PATH: f }),
      (e: Error) =>
        e.message ===
        `server_url of profile "lab" in ${f} is "lab.example:7420", which has no http:// or https://: expected http://host:port, https://host:port or unix:/path/to.sock`,
    );
    await writeProfile(f, "ok", { server_url: "unix:/run/skiff.sock", token_id: "i", token_secret: "s" }, true);
    assert.equal((await findConfig({ SKIFF_CONFIG_PATH: f }))?.source, `profile "ok" in ${f}`);
    const fromEnv = await findConfig({ SKIFF_SERVER_URL: "https://h", SKIFF_TOKEN_ID: "i", SKIFF_TOKEN_SECRET: "s" });
    assert.equal(fromEnv?.source, "SKIFF_SERVER_URL");
  });
});
