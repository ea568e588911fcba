// One server per Postgres database. A server's start recovers what a previous run left
// (running attempts are re-queued, queue leases reset): a second server on the same database
// would take what the first still holds and deliver it twice. The claim is a session-level
// advisory lock on a connection of its own, held until the server closes the store; a server
// that died (kill -9, its host gone) loses it when Postgres drops its connection, at once for
// a closed socket, within ~30 s for a host that vanished (the session's TCP keepalives).
import { hostname } from "node:os";
import pg from "pg";
import { StoreOpenError } from "../store.js";

/** The advisory lock key; advisory locks are per database, so each database has its own. */
const SERVER_LOCK = 7_420_013;
/** A restarted server may be a moment ahead of Postgres noticing the old one's closed socket. */
const CLAIM_WAIT_MS = 5_000;

export interface ServerClaim {
  release(): Promise<void>;
}

interface Holder {
  application_name: string | null;
  client_addr: string | null;
  backend_start: Date | null;
}

export async function claimServer(url: string, where: string, log: (line: string) => void): Promise<ServerClaim> {
  const me = `skiff-server ${hostname()} pid ${process.pid}`.slice(0, 63);
  const client = new pg.Client({ connectionString: url, application_name: me, keepAlive: true });
  let released = false;
  // A lost claim connection (a database restart) is said once; the server goes on, as it does
  // for its other connections, but a second server could then start on the database.
  client.on("error", (err) => {
    if (!released)
      log(
        `lost the connection that makes this the only server of ${where} (${err.message}): a second server could now start on it`,
      );
  });
  await client.connect();
  try {
    // Postgres, not the client, notices a server host that vanished without closing its socket.
    await client.query("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
    const until = Date.now() + CLAIM_WAIT_MS;
    for (;;) {
      const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [SERVER_LOCK]);
      if (r.rows[0]?.ok) break;
      if (Date.now() >= until) throw new StoreOpenError(await refusal(client, where));
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    released = true;
    await client.end().catch(() => {});
    throw err;
  }
  return {
    async release() {
      if (released) return;
      released = true;
      await client.end().catch(() => {});
    },
  };
}

async function refusal(client: pg.Client, where: string): Promise<string> {
  const r = await client
    .query<Holder>(
      `SELECT a.application_name, host(a.client_addr) AS client_addr, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.objid = $1 AND a.pid <> pg_backend_pid()
        LIMIT 1`,
      [SERVER_LOCK],
    )
    .catch(() => ({ rows: [] as Holder[] }));
  const h = r.rows[0];
  const who = h
    ? ` (${h.application_name || "a server"}${h.client_addr ? ` from ${h.client_addr}` : ""}${h.backend_start ? `, since ${h.backend_start.toISOString()}` : ""})`
    : "";
  return `another Skiff server is using the database ${where}${who}: one server runs per database; stop it first, or give this one another database`;
}
