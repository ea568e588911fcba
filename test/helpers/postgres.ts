// A private Postgres cluster for tests: initdb into a temporary directory, its own port on
// 127.0.0.1, run as a non-root user (Postgres refuses root: as root, the "postgres" system
// user of Debian's package), stopped after. One cluster serves every test of a run: the
// test script starts it once and passes SKIFF_TEST_PG (see scripts/with-postgres.ts); a test
// file run alone starts its own and stops it when the process ends.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface PgCluster {
  /** Superuser connection URL of a database (default: postgres). */
  url(db?: string): string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** A new, empty database; its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Stops the cluster (fast shutdown), keeping its data; start() brings it back on the same port. */
  stopServer(): void;
  startServer(): void;
  /** Stops it and deletes its directory. */
  destroy(): void;
}

/** What a cluster started by the test script tells the test processes (JSON in SKIFF_TEST_PG). */
interface Shared {
  dir: string;
  port: number;
  password: string;
  uid: number;
  gid: number;
}

export function pgBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      "Postgres is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/ensure-system-deps.sh",
    );
  return join(root, versions[0]!, "bin");
}

/** The user the cluster runs as: ourselves, or as root Debian's "postgres" user. */
function clusterUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return { uid, gid: process.getgid?.() ?? 0 };
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error('running as root, and there is no "postgres" user to run Postgres as');
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function run(shared: Shared, args: string[]): string {
  const [cmd, ...rest] = args;
  return execFileSync(join(pgBinDir(), cmd!), rest, {
    uid: shared.uid,
    gid: shared.gid,
    cwd: shared.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Creates and starts a new cluster (for the test script, or a test file run alone). */
export async function initCluster(): Promise<Shared> {
  const { uid, gid } = clusterUser();
  const dir = mkdtempSync(join(tmpdir(), "skiff-pg-"));
  chmodSync(dir, 0o755);
  chownSync(dir, uid, gid);
  const password = `pw${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, "pwfile"), password, { mode: 0o600 });
  chownSync(join(dir, "pwfile"), uid, gid);
  mkdirSync(join(dir, "sock"));
  chownSync(join(dir, "sock"), uid, gid);
  const shared: Shared = { dir, port: await freePort(), password, uid, gid };
  run(shared, [
    "initdb",
    "-D",
    join(dir, "data"),
    "-U",
    "skiff",
    "--auth-host=scram-sha-256",
    "--auth-local=trust",
    `--pwfile=${join(dir, "pwfile")}`,
    "--no-sync",
  ]);
  start(shared);
  return shared;
}

function start(s: Shared): void {
  const opts = `-p ${s.port} -k ${join(s.dir, "sock")} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  run(s, ["pg_ctl", "-D", join(s.dir, "data"), "-l", join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start"]);
}

function stop(s: Shared, mode: "fast" | "immediate" = "fast"): void {
  try {
    run(s, ["pg_ctl", "-D", join(s.dir, "data"), "-m", mode, "-w", "-t", "60", "stop"]);
  } catch {}
}

export function destroyCluster(s: Shared): void {
  stop(s);
  rmSync(s.dir, { recursive: true, force: true });
}

let own: Promise<PgCluster> | undefined;

/** The run's cluster: the script's (SKIFF_TEST_PG), or one of this process's own. */
export function postgres(): Promise<PgCluster> {
  own ??= (async () => {
    let shared: Shared;
    const env = process.env.SKIFF_TEST_PG;
    if (env) shared = JSON.parse(env) as Shared;
    else {
      shared = await initCluster();
      // Ours alone: gone when this process ends, whatever way it ends.
      process.once("exit", () => destroyCluster(shared));
    }
    return wrap(shared);
  })();
  return own;
}

function wrap(s: Shared): PgCluster {
  const url = (db = "postgres") =>
    `postgres://skiff:${encodeURIComponent(s.password)}@127.0.0.1:${s.port}/${encodeURIComponent(db)}`;
  return {
    url,
    host: "127.0.0.1",
    port: s.port,
    user: "skiff",
    password: s.password,
    async createDatabase(prefix = "t") {
      const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stopServer: () => stop(s),
    startServer: () => start(s),
    destroy: () => destroyCluster(s),
  };
}
