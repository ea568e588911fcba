// The floor under any request of a Skiff client: one WebSocket round trip between two Node
// processes (ws, as the client and server use), each side encoding and decoding one CBOR
// frame of the protocol's shape, and the server answering from setImmediate as the server's
// connection does. No store, no routing, no validation: what a Dict get cannot go below.
// With `commit`, the echo server first commits the request's value to one row of a table shaped
// like dict_entries (BEGIN, an upsert that rewrites one page, COMMIT), with the store's pragmas
// (WAL, synchronous NORMAL, checkpoints at 4 000 pages; no checkpoint thread): what a durable
// Dict put cannot go below on this transport and store.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFrame, encodeFrame, type Message } from "@skiff/protocol";
import Database from "better-sqlite3";
import { WebSocket, WebSocketServer } from "ws";

const value = new Uint8Array(32);

/** A row write committed before each answer (the store's pragmas and statements). */
function committer(): { commit(key: string, value: Uint8Array): void; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), "skiff-floor-"));
  const db = new Database(join(dir, "floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("wal_autocheckpoint = 4000");
  db.exec(`CREATE TABLE dict_entries (dict_id TEXT NOT NULL, key TEXT NOT NULL, value BLOB, value_blob TEXT,
    touched_at INTEGER NOT NULL, PRIMARY KEY (dict_id, key)) WITHOUT ROWID;
    CREATE INDEX dict_entries_touched ON dict_entries(touched_at);`);
  const upsert = db.prepare(
    `INSERT INTO dict_entries (dict_id, key, value, value_blob, touched_at) VALUES ('di-floor', @key, @value, NULL, 0)
     ON CONFLICT (dict_id, key) DO UPDATE SET value = excluded.value`,
  );
  const begin = db.prepare("BEGIN");
  const commit = db.prepare("COMMIT");
  return {
    commit(key, v) {
      begin.run();
      upsert.run({ key, value: Buffer.from(v.buffer, v.byteOffset, v.byteLength) });
      commit.run();
    },
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (process.argv[2] === "serve") {
  const store = process.argv[3] === "commit" ? committer() : undefined;
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on("connection", (s) =>
    s.on("message", (data: Buffer) => {
      const [m] = decodeFrame(data) as { id: number; p: { key: string; value?: Uint8Array } }[];
      if (store && m!.p.value) store.commit(m!.p.key, m!.p.value);
      const reply = [
        { t: "reply", id: m!.id, ok: true, r: store ? { written: true } : { value } },
      ] as unknown as Message[];
      setImmediate(() => s.send(encodeFrame(reply), { binary: true }));
    }),
  );
  process.on("SIGTERM", () => {
    store?.close();
    process.exit(0);
  });
  http.listen(0, "127.0.0.1", () => process.send!((http.address() as { port: number }).port));
}

/**
 * Starts the echo server in its own process; `roundTrip(i)` sends one request and awaits its
 * reply. With `commit`, requests carry a value (a different one each time, keys cycling over
 * 1 000) that the server commits before it answers.
 */
export async function startWsFloor(
  opts: { commit?: boolean } = {},
): Promise<{ pid: number; roundTrip(i?: number): Promise<void>; stop(): Promise<void> }> {
  const child = fork(new URL(import.meta.url).pathname, ["serve", ...(opts.commit ? ["commit"] : [])], {
    execArgv: ["--import", "tsx"],
  });
  const port = await new Promise<number>((r) => child.once("message", (m) => r(m as number)));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  let answer: () => void = () => {};
  ws.on("message", (data: Buffer) => {
    decodeFrame(data);
    answer();
  });
  let id = 1;
  const put = new Uint8Array(40);
  const view = new DataView(put.buffer);
  return {
    pid: child.pid!,
    roundTrip: (i = 0) =>
      new Promise<void>((resolve) => {
        answer = resolve;
        const p: Record<string, unknown> = { key: `s:k${i % 1000}`, objectId: "di-0123456789abcdef" };
        if (opts.commit) {
          view.setUint32(0, i);
          p.value = put.slice();
        }
        const msg = [{ t: opts.commit ? "dict.put" : "dict.get", id: id++, p }];
        setImmediate(() => ws.send(encodeFrame(msg as unknown as Message[])));
      }),
    async stop() {
      ws.close();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}
