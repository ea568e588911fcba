// A scoped token's blob grants outlive a server restart (auth/stored-grants.ts): a client that
// uploaded a blob, or was sent one (a large Dict value), and retries `blob.get` or passes the
// blob on after the server restarted — gracefully or with kill -9 — is served without fetching
// what named it again; another token of the same scope is still refused the same blob.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { encodeDictKey } from "@skiff/protocol";
import { Client, Dict } from "skiff";
import { type ServerProcess, startServer } from "./helpers/cli.js";

describe("scoped blob grants across a restart", { timeout: 120_000 }, () => {
  const clients: Client[] = [];
  let server: ServerProcess | undefined;
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
  });

  for (const how of ["SIGTERM", "SIGKILL"] as const) {
    it(`after a restart (${how}), a token still reads the blobs it uploaded or was sent, and another does not`, async () => {
      const first = await startServer();
      server = first;
      const admin = first.client();
      const token = async () => {
        const t = await admin.request("token.create", { kind: "api", environment: "main" });
        return { tokenId: t.tokenId, tokenSecret: t.tokenSecret };
      };
      const [mine, other] = [await token(), await token()];
      const connect = (s: ServerProcess, t: { tokenId: string; tokenSecret: string }) => {
        const c = new Client({ serverUrl: s.url, ...t, environment: "main" });
        clients.push(c);
        return c;
      };
      const me = connect(first, mine);
      // Uploaded: a blob of its own.
      const bytes = new Uint8Array(64 * 1024).fill(7);
      const uploaded = (await me.request("blob.put", { data: bytes })).blobId;
      // Sent: a Dict value over the inline limit travels as a blob.
      const dict = Dict.fromName<string, string>(`big-${how}`, { createIfMissing: true, client: admin });
      await dict.put("k", "v".repeat(1536 * 1024));
      const { objectId } = await me.request("object.get", {
        kind: "dict",
        name: `big-${how}`,
        environment: "main",
        createIfMissing: false,
      });
      const got = await me.request("dict.get", { objectId, key: encodeDictKey("k")! });
      const sent = (got.value as { blob: string }).blob;
      assert.match(sent, /^bl-/);
      const before = connect(first, other);
      const refused = (t: string, id: string) =>
        new RegExp(`token ${t} is scoped to environment "main": it cannot read blob ${id}`);
      await assert.rejects(before.request("blob.get", { blobId: sent, length: 8 }), refused(other.tokenId, sent));

      if (how === "SIGKILL") await first.kill();
      else {
        for (const c of clients) c.close();
        first.proc.kill("SIGTERM");
        await new Promise((r) => first.proc.once("exit", r));
      }
      const second = await startServer({
        home: first.home,
        dataDir: first.dataDir,
        token: { tokenId: first.tokenId, tokenSecret: first.tokenSecret },
      });
      server = second;
      const again = connect(second, mine);
      assert.deepEqual((await again.request("blob.get", { blobId: uploaded })).data, bytes);
      const part = await again.request("blob.get", { blobId: sent, length: 8 });
      assert.ok(part.size > 1536 * 1024, "the Dict value's blob, read without reading the Dict again");
      // Passing the uploaded blob on (a Dict write naming it) is allowed too.
      await again.request("dict.put", {
        objectId,
        key: encodeDictKey("mine")!,
        value: { blob: uploaded },
        skipIfExists: false,
      });
      // The other token of the same scope was given neither.
      const stranger = connect(second, other);
      await assert.rejects(stranger.request("blob.get", { blobId: sent, length: 8 }), refused(other.tokenId, sent));
      await assert.rejects(
        stranger.request("blob.get", { blobId: uploaded, length: 8 }),
        refused(other.tokenId, uploaded),
      );
      await assert.rejects(
        stranger.request("dict.put", {
          objectId,
          key: encodeDictKey("x")!,
          value: { blob: uploaded },
          skipIfExists: false,
        }),
        /it cannot dict.put with blob/,
      );
      // Revoking the token drops its grants with it (and its connection).
      const revoked = await second.client().request("token.revoke", { tokenId: mine.tokenId });
      assert.ok(revoked);
      await second.stop();
      server = undefined;
    });
  }
});
