export { ApiError } from "./api/api-error.js";
export { type ConnectionLimits, defaultConnectionLimits } from "./api/connection-limits.js";
export { DataDirInUseError } from "./control-socket.js";
export { DEFAULT_OBJECT_LIMITS, type ObjectLimits, parseObjectLimits } from "./objects/limits.js";
export type {
  ContainerEvents,
  ContainerHandle,
  ContainerSpec,
  ImageBuilder,
  WorkerProvider,
} from "./provider.js";
export { ImageBuildError } from "./provider.js";
export { DEFAULT_PORT, type ServerOptions, SkiffServer } from "./server.js";
export type { BlobStore, BlobUpload } from "./store/blobs/blob-store.js";
export { FsBlobStore } from "./store/blobs/fs-blob-store.js";
export { openStore, STORE_URL_HELP } from "./store/open.js";
export { PostgresStore } from "./store/postgres/postgres-store.js";
export { SqliteStore } from "./store/sqlite/sqlite-store.js";
export {
  type CallListQuery,
  type PendingCall,
  type Store,
  StoreCommitError,
  StoreOpenError,
  StoreUnavailableError,
} from "./store/store.js";
