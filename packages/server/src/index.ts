export { ApiError } from "./api/api-error.js";
export type {
  ContainerEvents,
  ContainerHandle,
  ContainerSpec,
  ImageBuilder,
  WorkerProvider,
} from "./provider.js";
export { ImageBuildError } from "./provider.js";
export { DEFAULT_PORT, type ServerOptions, SkiffServer } from "./server.js";
export { SqliteStore } from "./store/sqlite/sqlite-store.js";
export type { Store } from "./store/store.js";
