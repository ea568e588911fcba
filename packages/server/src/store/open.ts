import type { BlobStore } from "./blobs/blob-store.js";
import { withMethodLog } from "./method-log.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import { type Store, StoreOpenError } from "./store.js";

/** What `skiff server --store` and SKIFF_STORE_URL accept. */
export const STORE_URL_HELP =
  '"sqlite" (the default: skiff.db in the data directory) or postgres://user:password@host:port/database';

/**
 * Builds the store a server runs on from a `--store` value: unset or "sqlite" for the
 * embedded SQLite file in the data directory.
 * @throws Error with a one-line message naming the problem for a value it cannot use.
 */
export async function openStore(
  url: string | undefined,
  ctx: { dataDir: string; blobs: BlobStore; log: (msg: string) => void },
): Promise<Store> {
  const store = await openUrl(url, ctx);
  const methodLog = process.env.SKIFF_STORE_METHOD_LOG;
  return methodLog ? withMethodLog(store, methodLog) : store;
}

async function openUrl(
  url: string | undefined,
  ctx: { dataDir: string; blobs: BlobStore; log: (msg: string) => void },
): Promise<Store> {
  const u = url?.trim() ?? "";
  if (/^postgres(ql)?:/i.test(u)) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new StoreOpenError(`--store: ${JSON.stringify(redact(u))} is not a valid URL: use ${STORE_URL_HELP}`);
    }
    if (!parsed.hostname || parsed.pathname.length <= 1)
      throw new StoreOpenError(
        `--store: ${JSON.stringify(redact(u))} needs a host and a database name: postgres://user:password@host:port/database`,
      );
    // Loaded here: a server on SQLite (every `skiff run`) never loads pg (~30 ms of CPU).
    const { PostgresStore } = await import("./postgres/postgres-store.js");
    return PostgresStore.open({ url: u, log: ctx.log });
  }
  if (u === "" || u === "sqlite") {
    const s = new SqliteStore({ dataDir: ctx.dataDir, log: ctx.log });
    const moved = await s.moveLegacyBlobs(ctx.blobs);
    if (moved > 0) ctx.log(`moved ${moved} blob(s) from skiff.db to the blob store`);
    return s;
  }
  throw new StoreOpenError(
    `--store ${JSON.stringify(redact(u))} is not a store this server knows: use ${STORE_URL_HELP}`,
  );
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
}
