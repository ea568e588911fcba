import { join } from "node:path";
import type { ObjectStore } from "../store/object-store.js";
import { type BlobSize, DictService } from "./dict-service.js";
import { DEFAULT_OBJECT_LIMITS, type ObjectLimits } from "./limits.js";
import { QueueService } from "./queue-service.js";
import { ObjectRegistry } from "./registry.js";
import { RemoteVolumes } from "./volume-remote.js";
import { VolumeService } from "./volume-service.js";

export { DEFAULT_OBJECT_LIMITS, type ObjectLimits } from "./limits.js";
export type { LeaseHolder } from "./queue-service.js";
export { type Caller, checkKind, KIND_NAME } from "./registry.js";

/** Longest pause between two sweeps of idle dict entries and queue partitions. */
const MAX_SWEEP_MS = 60_000;

/** The object services of the control plane, and the sweeper of idle entries. */
export class Objects {
  readonly registry: ObjectRegistry;
  readonly dicts: DictService;
  readonly queues: QueueService;
  readonly volumes: VolumeService;
  /** Volume copies on worker hosts. */
  readonly remoteVolumes: RemoteVolumes;
  readonly limits: ObjectLimits;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    store: ObjectStore,
    limits: Partial<ObjectLimits>,
    blobSize: BlobSize,
    dataDir: string,
    private readonly log: (msg: string) => void,
  ) {
    this.limits = { ...DEFAULT_OBJECT_LIMITS, ...limits };
    this.registry = new ObjectRegistry(store, this.limits.maxObjectsPerEnvironment);
    this.dicts = new DictService(store, this.limits, blobSize);
    this.queues = new QueueService(store, this.limits, log);
    this.volumes = new VolumeService(store, dataDir, log);
    this.remoteVolumes = new RemoteVolumes(this.volumes, join(dataDir, "volumes", "uploads"));
    this.registry.onDeleted((row) => {
      if (row.kind === "queue") this.queues.deleted(row.id, row.name ? `"${row.name}"` : row.id);
      if (row.kind === "volume") void this.volumes.deleted(row.id);
    });
    // Sweep often enough that an entry outlives its TTL by at most a quarter of it.
    const every = Math.max(
      50,
      Math.min(MAX_SWEEP_MS, this.limits.dictIdleTtlMs / 4, this.limits.queuePartitionTtlMs / 4),
    );
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  async sweep(): Promise<void> {
    const now = Date.now();
    try {
      const entries = await this.dicts.expire(now);
      const parts = await this.queues.expire(now);
      if (entries + parts > 0) this.log(`dropped ${entries} idle dict entries and ${parts} idle queue partitions`);
    } catch (err) {
      this.log(`object sweep failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }
}
