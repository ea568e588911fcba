// Volumes (api.md §7): mounts read-write and read-only, commit/reload between containers,
// commit on a clean exit, concurrent commits, the outside API and `skiff volume ls|get|put|rm`,
// a 100 MB file both ways in bounded memory, pruning of old versions, and each bad input.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Client, Function_, InvalidError, NotFoundError, Volume } from "skiff";
import type * as volApp from "./fixtures/volume-rw-app.js";
import { type ServerProcess, scratchDir, skiff, startServer, waitFor } from "./helpers/cli.js";
import { rssKiB } from "./helpers/procs.js";

/** Bytes stored as volume content on the server (what versions still name). */
function contentBytes(dataDir: string): number {
  const root = join(dataDir, "volumes", "content");
  let n = 0;
  for (const sub of readdirSync(root))
    for (const f of readdirSync(join(root, sub))) n += statSync(join(root, sub, f)).size;
  return n;
}

describe("Volume", () => {
  let server: ServerProcess;
  let client: Client;
  before(async () => {
    server = await startServer();
    client = server.client();
    const r = await skiff(["deploy", "test/fixtures/volume-rw-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => server.stop());

  const fn = <K extends "write" | "read" | "writeReadOnly" | "writeBig">(name: K) =>
    Function_.lookup<(typeof volApp)[K]>("volume-rw-app", name, { client });

  it("a container's commit becomes visible to another container after its reload(), not before", async () => {
    const write = await fn("write");
    const read = await fn("read");
    // The reader's container starts now, on the version without the file.
    assert.equal(await read.remote("seen.txt", false), null);
    assert.equal(await write.remote("seen.txt", "v1", true), "written");
    assert.equal(await read.remote("seen.txt", false), null, "visible before reload()");
    assert.equal(await read.remote("seen.txt", true), "v1");
    assert.equal(await write.remote("seen.txt", "v2", true), "written");
    assert.equal(await read.remote("seen.txt", true), "v2");
    const v = Volume.fromName("shared-files", { client });
    assert.equal(await new Response(v.readFile("seen.txt")).text(), "v2");
  });

  it("mounts read-only with readOnly(); commit() outside a mounting container is a clear error", async () => {
    assert.equal(await (await fn("writeReadOnly")).remote(), "EROFS");
    await assert.rejects(Volume.fromName("shared-files", { client }).commit(), /run inside a container that mounts it/);
  });

  it("concurrent commits to different files both land; to the same file the last wins", async () => {
    const write = await fn("write");
    await Promise.all([write.remote("c/a.txt", "A", true), write.remote("c/b.txt", "B", true)]);
    const v = Volume.fromName("shared-files", { client });
    const names = (await v.listFiles("c")).map((e) => e.path).sort();
    assert.deepEqual(names, ["c/a.txt", "c/b.txt"]);
    await write.remote("c/a.txt", "first", true);
    await write.remote("c/a.txt", "second", true);
    assert.equal(await new Response(v.readFile("c/a.txt")).text(), "second");
  });

  it("a container commits on a clean exit", async () => {
    const r = await skiff(["run", "test/fixtures/volume-exit-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    const v = Volume.fromName("exit-files", { client });
    await waitFor(async () => (await v.listFiles("/").catch(() => [])).length > 0, "the exit commit");
    assert.equal(await new Response(v.readFile("left.txt")).text(), "written, never committed by hand");
  });

  it("listFiles, writeFile, readFile, copyFiles, removeFile from outside, and skiff volume ls|get|put|rm", async () => {
    const v = Volume.fromName("outside", { createIfMissing: true, client });
    await v.writeFile("a/one.txt", "1");
    await v.writeFile("/a/two.bin", new Uint8Array([1, 2, 3]));
    await v.writeFile("b.txt", new Blob(["from a stream"]).stream());
    assert.deepEqual((await v.listFiles("/")).map((e) => [e.path, e.type]).sort(), [
      ["a", "directory"],
      ["b.txt", "file"],
    ]);
    assert.deepEqual((await v.listFiles("a")).map((e) => e.path).sort(), ["a/one.txt", "a/two.bin"]);
    assert.equal(await new Response(v.readFile("b.txt")).text(), "from a stream");
    await v.copyFiles(["a"], "a2");
    await v.copyFiles(["b.txt", "a/one.txt"], "a2");
    assert.deepEqual((await v.listFiles("a2", { recursive: true })).map((e) => e.path).sort(), [
      "a2/b.txt",
      "a2/one.txt",
      "a2/two.bin",
    ]);
    // A trailing "/" names a directory even before it exists: the file goes inside it.
    await v.copyFiles(["b.txt"], "c/");
    await v.copyFiles(["b.txt"], "renamed.txt");
    assert.deepEqual(
      (await v.listFiles("c")).map((e) => [e.path, e.type]),
      [["c/b.txt", "file"]],
    );
    assert.equal(await new Response(v.readFile("renamed.txt")).text(), "from a stream");
    await v.removeFile("c", { recursive: true });
    await v.removeFile("renamed.txt");
    // A misspelt option (from plain JavaScript) is refused, not ignored.
    await assert.rejects(v.removeFile("a2", { recursiv: true } as never), /removeFile: unknown option "recursiv"/);
    await assert.rejects(v.listFiles("a2", { recursivee: true } as never), /listFiles: unknown option "recursivee"/);
    await v.removeFile("a2", { recursive: true });
    await v.removeFile("b.txt");
    assert.deepEqual((await v.listFiles("/", { recursive: true })).map((e) => e.path).sort(), [
      "a/one.txt",
      "a/two.bin",
    ]);

    const dir = scratchDir("vol-cli");
    const local = join(dir, "local.txt");
    createWriteStream(local).end("put by the CLI");
    await new Promise((r) => setTimeout(r, 50));
    let r = await skiff(["volume", "put", "outside", local, "cli/put.txt"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    r = await skiff(["volume", "ls", "outside", "cli"], { env: server.env });
    assert.match(r.stdout, /cli\/put\.txt\s+file\s+14 B/);
    r = await skiff(["volume", "get", "outside", "cli/put.txt", "-"], { env: server.env });
    assert.equal(r.stdout, "put by the CLI");
    r = await skiff(["volume", "rm", "outside", "cli"], { env: server.env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /"cli" is a directory: pass -r to remove it/);
    r = await skiff(["volume", "rm", "-r", "outside", "cli"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    r = await skiff(["volume", "list"], { env: server.env });
    assert.match(r.stdout, /outside/);
  });

  it("names each bad input clearly and writes nothing", async () => {
    const v = Volume.fromName("bad-volume", { createIfMissing: true, client });
    await v.writeFile("dir/file.txt", "x");
    await assert.rejects(v.writeFile("../escape.txt", "x"), /escapes the volume's root/);
    await assert.rejects(v.writeFile("dir/../../escape.txt", "x"), /escapes the volume's root/);
    await assert.rejects(v.writeFile("dir", "x"), /"dir" is a directory in the volume/);
    await assert.rejects(v.writeFile("dir/file.txt/under", "x"), /"dir\/file.txt" is a file/);
    await assert.rejects(new Response(v.readFile("dir")).text(), /"dir" is a directory, not a file/);
    await assert.rejects(new Response(v.readFile("missing.txt")).text(), NotFoundError);
    await assert.rejects(v.removeFile("missing.txt"), /no file or directory "missing.txt"/);
    await assert.rejects(v.writeFile("x.txt", 42 as never), InvalidError);
    assert.deepEqual(
      (await v.listFiles("/", { recursive: true })).map((e) => e.path),
      ["dir/file.txt"],
    );
    await assert.rejects(
      Volume.fromName("no-such-volume", { client }).listFiles(),
      /Volume "no-such-volume" not found/,
    );
    const { Dict } = await import("skiff");
    await Dict.fromName("a-dict", { createIfMissing: true, client }).len();
    await assert.rejects(Volume.fromName("a-dict", { client }).listFiles(), /"a-dict" is a Dict, not a Volume/);
  });

  // `npm run chaos` moves 1 GiB (SKIFF_VOLUME_MB=1024); the memory bound is the same.
  const MB = Number(process.env.SKIFF_VOLUME_MB ?? 100);
  it(`streams a ${MB} MB file both ways in bounded memory, and drops content no version needs`, async (t) => {
    const dir = scratchDir("vol-big");
    const src = join(dir, "big.bin");
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(src);
      const chunk = Buffer.alloc(1024 * 1024);
      let i = 0;
      const more = () => {
        while (i < MB) {
          chunk.fill(i % 251);
          i++;
          if (!out.write(Buffer.from(chunk))) return void out.once("drain", more);
        }
        out.end(resolve);
      };
      out.on("error", reject);
      more();
    });
    const v = Volume.fromName("big", { createIfMissing: true, client });
    const before = contentBytes(server.dataDir);
    const rss0 = rssKiB(process.pid);
    await v.writeFile("big.bin", createReadStream(src, { highWaterMark: 1024 * 1024 }));
    const hash = createHash("sha256");
    let n = 0;
    for await (const chunk of v.readFile("big.bin")) {
      hash.update(chunk);
      n += chunk.byteLength;
    }
    const grew = (rssKiB(process.pid) - rss0) / 1024;
    t.diagnostic(`client RSS grew ${grew.toFixed(0)} MiB moving ${MB} MB each way`);
    assert.ok(grew < 60, `client RSS grew ${grew.toFixed(0)} MiB`);
    assert.equal(n, MB * 1024 * 1024);
    const expected = createHash("sha256");
    for await (const c of createReadStream(src)) expected.update(c);
    assert.equal(hash.digest("hex"), expected.digest("hex"));
    assert.ok(contentBytes(server.dataDir) - before >= MB * 1024 * 1024);
    // Replaced, then removed: no version names the big content any more, so it goes.
    await v.writeFile("big.bin", "small now");
    await v.removeFile("big.bin");
    assert.ok(contentBytes(server.dataDir) - before < 1024 * 1024, "old content was not removed");
  });

  it("deleting a volume in use fails the next operation clearly", async () => {
    const v = Volume.fromName("doomed-vol", { createIfMissing: true, client });
    await v.writeFile("f.txt", "x");
    const r = await skiff(["volume", "delete", "doomed-vol"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(v.listFiles(), /Volume "doomed-vol" no longer exists: it was deleted/);
  });
});
