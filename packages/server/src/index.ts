export { ApiError } from "./api/api-error.js";
export { DEFAULT_OBJECT_LIMITS, type ObjectLimits, parseObjectLimits } from "./objects/limits.js";
export type {
  ContainerEvents,
  ContainerHandle,
  ContainerSpec,
  WorkerProvider,
} from "./provider.js";
export { DEFAULT_PORT, type ServerOptions, SkiffServer } from "./server.js";
export { openStore, STORE_URL_HELP } from "./store/open.js";
export { SqliteStore } from "./store/sqlite/sqlite-store.js";
export { type CallListQuery, type PendingCall, type Store, StoreCommitError } from "./store/store.js";
