import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/** What `skiff server --store` and SKIFF_STORE_URL accept. */
export const STORE_URL_HELP = "sqlite (the default: skiff.db in the data directory)";

/**
 * Builds the store a server runs on from a `--store` value: unset or "sqlite" for the
 * embedded SQLite file in the data directory.
 * @throws Error with a one-line message naming the problem for a value it cannot use.
 */
export async function openStore(
  url: string | undefined,
  ctx: { dataDir: string; log: (msg: string) => void },
): Promise<Store> {
  const u = url?.trim() ?? "";
  if (u === "" || u === "sqlite") return new SqliteStore({ dataDir: ctx.dataDir, log: ctx.log });
  throw new Error(`--store ${JSON.stringify(u)} is not a store this server knows: use ${STORE_URL_HELP}`);
}
