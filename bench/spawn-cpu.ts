// Where a durable `.spawn`'s CPU goes, end to end (client → server → store), on SQLite and on
// a private Postgres cluster (default settings, synchronous_commit on) in the same run: CPU
// seconds per 1 000 spawns of the client (this process), the server process, its containers
// and the Postgres processes (all read from /proc, so a loaded machine distorts them far less
// than wall time), and on Postgres the transactions, WAL records and WAL syncs (fsyncs) per
// 1 000 spawns (pg_stat_database, pg_stat_wal).
//   BENCH_SPAWN_N=10000 node --import tsx bench/spawn-cpu.ts
// With SKIFF_BENCH_REPO=<another checkout> its server runs instead (bench/ab.ts).
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { Function_ } from "skiff";
import { postgres } from "../test/helpers/postgres.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_SPAWN_N ?? 10_000);
const AT_ONCE = 2000;
const TICK = 100; // USER_HZ

type Square = Function_<(x: number) => Promise<number>>;

/** utime+stime (s) of a process; with `reaped`, also of the children it has waited for. */
function procCpu(pid: number, reaped = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0)) / TICK;
  } catch {
    return 0;
  }
}
function allProcs(): { pid: number; ppid: number; uid: number }[] {
  const out: { pid: number; ppid: number; uid: number }[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" ");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, "utf8"))![1]);
      out.push({ pid: Number(d), ppid: Number(stat[1]), uid });
    } catch {}
  }
  return out;
}
/** CPU of every descendant of `root` (not itself): live ones, and those it has reaped. */
function descendantsCpu(root: number): number {
  const procs = allProcs();
  const kids = new Map<number, number[]>();
  for (const p of procs) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  let sum = procCpu(root, true) - procCpu(root);
  const walk = (pid: number) => {
    for (const k of kids.get(pid) ?? []) {
      sum += procCpu(k);
      walk(k);
    }
  };
  walk(root);
  return sum;
}
/**
 * CPU of the cluster's processes (postmaster and backends: all run as the postgres user),
 * including backends that have exited (the postmaster reaps them).
 */
function postgresCpu(uid: number): number {
  const procs = allProcs().filter((p) => p.uid === uid);
  const pids = new Set(procs.map((p) => p.pid));
  return procs.reduce((s, p) => s + procCpu(p.pid, !pids.has(p.ppid)), 0);
}
function pgUid(): number {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  return line ? Number(line.split(":")[2]) : (process.getuid?.() ?? 0);
}

async function pgCounters(url: string): Promise<{ xact: number; walRecords: number; walSync: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const db = (
      await c.query("SELECT xact_commit::float8 AS x FROM pg_stat_database WHERE datname = current_database()")
    ).rows[0] as { x: number };
    const w = (await c.query("SELECT wal_records::float8 AS r, wal_sync::float8 AS s FROM pg_stat_wal")).rows[0] as {
      r: number;
      s: number;
    };
    return { xact: db.x, walRecords: w.r, walSync: w.s };
  } finally {
    await c.end();
  }
}

async function measure(name: string, storeArgs: string[], url: string | undefined) {
  const server = await startSkiffServer(storeArgs);
  try {
    const d = await runCli(["deploy", "bench/apps/trivial.ts"], server.env);
    if (d.code !== 0) throw new Error(d.out);
    const square = await Function_.lookup<Square>("bench", "square", { client: server.client });
    for (let i = 0; i < 500; i++) await square.spawn(i); // warm: containers up, code paths hot
    await new Promise((r) => setTimeout(r, 1500));
    const uid = pgUid();
    const pid = server.proc.pid!;
    const before = {
      server: procCpu(pid),
      kids: descendantsCpu(pid),
      pg: url ? postgresCpu(uid) : 0,
      client: process.cpuUsage(),
      counters: url ? await pgCounters(url) : undefined,
    };
    const t = performance.now();
    for (let i = 0; i < N; i += AT_ONCE)
      await Promise.all(Array.from({ length: Math.min(AT_ONCE, N - i) }, (_, j) => square.spawn(i + j)));
    const secs = (performance.now() - t) / 1000;
    const after = {
      server: procCpu(pid),
      kids: descendantsCpu(pid),
      pg: url ? postgresCpu(uid) : 0,
      client: process.cpuUsage(before.client),
      counters: url ? await pgCounters(url) : undefined,
    };
    const k = 1000 / N;
    const c = (after.client.user + after.client.system) / 1e6;
    let line = `${name}: ${(N / secs).toFixed(0)} durable spawns/s (${secs.toFixed(2)} s); CPU s per 1000 spawns: server ${((after.server - before.server) * k).toFixed(3)}, containers ${((after.kids - before.kids) * k).toFixed(3)}, client ${(c * k).toFixed(3)}`;
    if (url && before.counters && after.counters)
      line += `, postgres ${((after.pg - before.pg) * k).toFixed(3)}; per 1000 spawns: ${((after.counters.xact - before.counters.xact) * k).toFixed(1)} transactions, ${((after.counters.walSync - before.counters.walSync) * k).toFixed(1)} WAL syncs, ${((after.counters.walRecords - before.counters.walRecords) * k).toFixed(0)} WAL records`;
    console.log(line);
    if (url) {
      // Row versions per table over the whole run (warm-up included), once the calls have run
      // and the backends have reported: how many updates were HOT (no index entries written).
      await new Promise((r) => setTimeout(r, 3000));
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const rows = (
          await c.query(
            "SELECT relname, n_tup_ins::float8 AS ins, n_tup_upd::float8 AS upd, n_tup_hot_upd::float8 AS hot FROM pg_stat_user_tables WHERE relname IN ('calls', 'inputs', 'graph_inputs', 'attempts') ORDER BY relname",
          )
        ).rows as { relname: string; ins: number; upd: number; hot: number }[];
        console.log(
          `${name} rows: ${rows.map((r) => `${r.relname} ${r.ins} inserted, ${r.upd} updated (${r.hot} HOT)`).join("; ")}`,
        );
      } finally {
        await c.end();
      }
    }
  } finally {
    await server.stop();
  }
}

const which = process.env.BENCH_STORE ?? "both";
if (which !== "postgres") await measure("sqlite", [], undefined);
if (which !== "sqlite") {
  const cluster = await postgres();
  const url = await cluster.createDatabase("bench");
  await measure("postgres", ["--store", url], url);
}
process.exit(0);
