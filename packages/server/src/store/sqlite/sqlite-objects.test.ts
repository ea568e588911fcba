import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { objectStoreContract } from "../contract/object-store.contract.js";
import { SqliteStore } from "./sqlite-store.js";

describe("SqliteObjectStore (object store contract)", () => {
  objectStoreContract(async () => {
    const store = new SqliteStore({ dataDir: mkdtempSync(join(tmpdir(), "skiff-objects-")) });
    return { store: store.objects, close: () => store.close() };
  });
});
