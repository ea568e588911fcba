// The worker-provider contract lives in @skiff/protocol (workers import it from there, not
// from the server); re-exported here for the server's own modules and its public API.
export {
  type ContainerEvents,
  type ContainerHandle,
  type ContainerSpec,
  ImageBuildError,
  type ImageBuilder,
  type WorkerProvider,
} from "@skiff/protocol";
