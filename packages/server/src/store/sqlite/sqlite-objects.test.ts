import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { objectStoreContract } from "../contract/object-store.contract.js";
import { SqliteStore } from "./sqlite-store.js";

describe("SqliteObjectStore (object store contract)", () => {
  objectStoreContract(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "skiff-objects-"));
    const store = new SqliteStore({ dataDir });
    return {
      store: store.objects,
      close: async () => {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  });
});
