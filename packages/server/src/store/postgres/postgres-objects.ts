import { ApiError } from "../../api/api-error.js";
import type {
  DictEntryRow,
  ObjectKind,
  ObjectRow,
  ObjectStore,
  QueueItemRow,
  QueuePutResult,
  StoredValue,
  VolumeFileRow,
  VolumeVersion,
} from "../object-store.js";

/**
 * Dicts, Queues and Volumes are not on Postgres yet (their tables, sql/sqlite/migrations
 * 010-011, have no Postgres twin so far): making one answers `unsupported`, naming the way
 * out. Everything that lists or expires finds nothing, which is true, so a server on Postgres
 * starts and runs everything else.
 */
export class PostgresObjectStore implements ObjectStore {
  private unsupported(): never {
    throw new ApiError(
      "unsupported",
      "Dicts, Queues and Volumes are not available on a Postgres store yet: run this server on the embedded store (--store sqlite) to use them",
    );
  }

  async createObject(_row: ObjectRow): Promise<ObjectRow> {
    return this.unsupported();
  }
  async getObject(_id: string): Promise<ObjectRow | undefined> {
    return undefined;
  }
  async findObject(_environment: string, _name: string): Promise<ObjectRow | undefined> {
    return undefined;
  }
  async listObjects(_environment: string, _kind: ObjectKind): Promise<ObjectRow[]> {
    return [];
  }
  async ownedObjects(_owner: { app: string } | { session: string }): Promise<ObjectRow[]> {
    return [];
  }
  async ephemeralObjects(): Promise<ObjectRow[]> {
    return [];
  }
  async deleteObject(_id: string): Promise<boolean> {
    return false;
  }
  async dictPut(): Promise<boolean> {
    return this.unsupported();
  }
  async dictUpdate(): Promise<void> {
    this.unsupported();
  }
  async dictGet(): Promise<StoredValue | undefined> {
    return this.unsupported();
  }
  async dictDelete(): Promise<StoredValue | undefined> {
    return this.unsupported();
  }
  async dictLen(): Promise<number> {
    return this.unsupported();
  }
  async dictScan(): Promise<DictEntryRow[]> {
    return this.unsupported();
  }
  async dictClear(): Promise<void> {
    this.unsupported();
  }
  async dictExpire(_before: number): Promise<number> {
    return 0;
  }
  async queuePut(): Promise<QueuePutResult> {
    return this.unsupported();
  }
  async queueTake(): Promise<QueueItemRow[]> {
    return this.unsupported();
  }
  async queueRelease(): Promise<void> {
    this.unsupported();
  }
  async queueAck(): Promise<void> {
    this.unsupported();
  }
  async queueLen(): Promise<number> {
    return this.unsupported();
  }
  async queueClear(): Promise<void> {
    this.unsupported();
  }
  async queueResetLeases(): Promise<void> {}
  async queueExpire(_before: number): Promise<number> {
    return 0;
  }
  async volumeLatest(): Promise<VolumeVersion> {
    return this.unsupported();
  }
  async volumeVersion(): Promise<VolumeFileRow[]> {
    return this.unsupported();
  }
  async volumeCommit(): Promise<VolumeVersion> {
    return this.unsupported();
  }
  async volumePrune(): Promise<string[]> {
    return [];
  }
  async volumeHashUsed(_hash: string): Promise<boolean> {
    return false;
  }
}
