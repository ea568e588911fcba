// The dashboard's calls list with BENCH_N (default 1 000 000) calls in the store: filtered pages
// of 50 through the store's listCalls (indexes of migration 050, cursor paging), p50 over
// BENCH_Q queries each. Baseline in the same run: the same deep page by OFFSET, which is what
// "page=N" paging would cost (the API refuses it for this reason). The store is filled with
// one bulk transaction through better-sqlite3 (this measures reads, not the write path).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallListQuery, SqliteStore } from "@skiff/server";
import Database from "better-sqlite3";

const N = Number(process.env.BENCH_N ?? 1_000_000);
const Q = Number(process.env.BENCH_Q ?? 200);
const APPS = 5;
const FNS_PER_APP = 4;
const DAY = 86_400_000;

const dir = mkdtempSync(join(tmpdir(), "skiff-bench-calls-"));
const now = Date.now();
try {
  await new SqliteStore({ dataDir: dir }).close(); // creates the schema (all migrations)
  const db = new Database(join(dir, "skiff.db"));
  const t0 = performance.now();
  const ins = db.prepare(
    "INSERT INTO calls (id, function_id, app_id, kind, state, status, created_at, completed_at) VALUES (?, ?, ?, 'spawn', ?, ?, ?, ?)",
  );
  const appFn = db.prepare(
    "INSERT INTO functions (id, app_id, name, version, spec, bundle_blob_id, active) VALUES (?, ?, ?, 1, '{}', 'b', 1)",
  );
  const app = db.prepare(
    "INSERT INTO apps (id, name, environment, mode, state, version, created_at) VALUES (?, ?, 'main', 'deployed', 'deployed', 1, ?)",
  );
  db.transaction(() => {
    for (let a = 0; a < APPS; a++) {
      app.run(`ap-${a}`, `app${a}`, now - 7 * DAY);
      for (let f = 0; f < FNS_PER_APP; f++) appFn.run(`fu-${a}-${f}`, `ap-${a}`, `fn${f}`);
    }
    for (let i = 0; i < N; i++) {
      const a = i % APPS;
      const f = (i >> 3) % FNS_PER_APP;
      // 90% success, 8% failure, 2% pending; spread over the last 7 days.
      const r = (i * 2654435761) % 100;
      const status = r < 90 ? "success" : r < 98 ? "failure" : "pending";
      const created = now - 7 * DAY + Math.floor((i / N) * 7 * DAY);
      ins.run(
        `fc-${i.toString(16).padStart(12, "0")}`,
        `fu-${a}-${f}`,
        `ap-${a}`,
        status === "pending" ? "pending" : "done",
        status,
        created,
        status === "pending" ? null : created + 50,
      );
    }
  })();
  db.exec("ANALYZE");
  db.close();
  console.log(`filled ${N} calls in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const store = new SqliteStore({ dataDir: dir });
  const p50 = async (q: () => Promise<unknown>) => {
    const ts: number[] = [];
    for (let i = 0; i < Q; i++) {
      const t = performance.now();
      await q();
      ts.push(performance.now() - t);
    }
    ts.sort((a, b) => a - b);
    return { p50: ts[Math.floor(Q / 2)]!, p99: ts[Math.floor(Q * 0.99)]! };
  };
  const page = (extra: Omit<CallListQuery, "limit">) => () => store.listCalls({ ...extra, limit: 51 });
  // A cursor half way down the function's calls: what paging to the middle hands back.
  const mid = (
    await store.listCalls({ functionId: "fu-2-1", limit: 1, before: { createdAt: now - 3.5 * DAY, id: "fc-z" } })
  )[0]!;
  const cases: [string, () => Promise<unknown>][] = [
    ["newest page, no filter", page({})],
    ["function + status=failure", page({ functionId: "fu-2-1", status: "failure" })],
    ["app + last 24 h", page({ appId: "ap-3", since: now - DAY })],
    ["status=pending", page({ status: "pending" })],
    [
      "function, cursor half way down",
      page({ functionId: "fu-2-1", before: { createdAt: mid.createdAt, id: mid.id } }),
    ],
    [
      "app + function + status + time window",
      page({ appId: "ap-2", functionId: "fu-2-1", status: "success", since: now - 5 * DAY, until: now - 2 * DAY }),
    ],
  ];
  console.log(`| query (page of 50, ${N.toLocaleString("en")} calls) | p50 | p99 |`);
  console.log("| --- | --- | --- |");
  let worst = 0;
  for (const [name, q] of cases) {
    const r = await p50(q);
    worst = Math.max(worst, r.p50);
    console.log(`| ${name} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
  }
  // Baseline: the same middle page by OFFSET (what page=N would do).
  const raw = new Database(join(dir, "skiff.db"), { readonly: true });
  const offset = (
    raw
      .prepare("SELECT count(*) AS n FROM calls WHERE function_id = 'fu-2-1' AND created_at >= ?")
      .get(mid.createdAt) as { n: number }
  ).n;
  const byOffset = raw.prepare(
    "SELECT id FROM calls WHERE function_id = 'fu-2-1' ORDER BY created_at DESC, id DESC LIMIT 51 OFFSET ?",
  );
  const cursorCase = cases[4]![1];
  const off = await p50(async () => byOffset.all(offset));
  const cur = await p50(cursorCase);
  console.log(
    `| baseline: the same middle page by OFFSET ${offset} | ${off.p50.toFixed(2)} ms | ${off.p99.toFixed(2)} ms |`,
  );
  console.log(`ratio OFFSET / cursor at the same depth: ${(off.p50 / cur.p50).toFixed(0)}x`);
  console.log(
    `target p50 <= 50 ms for a filtered page: ${worst <= 50 ? "met" : "NOT met"} (worst p50 ${worst.toFixed(2)} ms)`,
  );
  raw.close();
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
