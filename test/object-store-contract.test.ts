// The object store contract (packages/server/src/store/contract/object-store.contract.ts) on
// Postgres; sqlite-objects.test.ts runs it on SQLite. Each test gets a fresh database of the
// run's private cluster (helpers/postgres.ts).
import { existsSync, readdirSync } from "node:fs";
import { describe } from "node:test";
import { PostgresStore } from "@skiff/server";
import { objectStoreContract } from "../packages/server/src/store/contract/object-store.contract.js";
import { postgres } from "./helpers/postgres.js";

const hasPostgres =
  !!process.env.SKIFF_TEST_PG ||
  (existsSync("/usr/lib/postgresql") &&
    readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)));
if (!hasPostgres)
  console.log(
    "NOT CHECKED: PostgresObjectStore contract: Postgres is not installed (run scripts/ensure-system-deps.sh)",
  );

describe("PostgresObjectStore (object store contract)", { skip: !hasPostgres && "no Postgres" }, () => {
  objectStoreContract(async () => {
    const url = await (await postgres()).createDatabase("objects");
    const store = await PostgresStore.open({ url, commitDelayMs: 20 });
    return { store: store.objects, close: () => store.close() };
  });
});
