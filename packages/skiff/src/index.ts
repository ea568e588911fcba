export type { FunctionStats, InputInfo, ParamValue } from "@skiff/protocol";
export { App, type ClsParams, resolveApps } from "./app.js";
export { Client, type ClientParams, type MapProgressEvent, type MapProgressListener } from "./client.js";
export { Cls, type ClsInstance, type ClsInstanceParams, type ClsOptions } from "./cls.js";
export {
  activeProfile,
  type ClientConfig,
  configPath,
  DEFAULT_ENVIRONMENT,
  findConfig,
  loadConfig,
  type Profile,
  readProfiles,
  writeProfile,
} from "./config.js";
export {
  _setInputContextProvider,
  currentInput,
  currentInputId,
  type InputContext,
} from "./context.js";
export { enter, exit, method, parameter } from "./decorators.js";
export {
  AuthError,
  ConnectionError,
  ContainerTerminatedError,
  errorFromWire,
  FunctionCancelledError,
  FunctionTimeoutError,
  InitError,
  InternalError,
  InvalidError,
  NotFoundError,
  NotSupportedError,
  OutputExpiredError,
  RemoteProtocolError,
  SkiffError,
  TimeoutError,
  UserCodeError,
} from "./errors.js";
export {
  type AnyFunction,
  type ArgsOf,
  Function_,
  Function_ as Function,
  type FunctionLookupParams,
  isGeneratorFunction,
  type MapItem,
  type ResultOf,
  type YieldOf,
} from "./function.js";
export {
  type CallResult,
  FunctionCall,
  type FunctionCallCancelParams,
  type FunctionCallFromIdParams,
  type FunctionCallGetParams,
  gather,
} from "./function-call.js";
export type { ConcurrencyParams, FunctionParams } from "./function-options.js";
export { Image, type ImageStepOptions } from "./image.js";
export { type ForEachParams, type MapParams, MapResult } from "./map.js";
export { Dict, type DictKey, type DictPutParams } from "./objects/dict.js";
export type { ObjectDeleteParams, ObjectEphemeralParams, ObjectFromNameParams } from "./objects/handle.js";
export {
  Queue,
  type QueueClearParams,
  type QueueGetParams,
  type QueueIterateParams,
  type QueueLenParams,
  type QueuePutParams,
} from "./objects/queue.js";
export {
  Volume,
  type VolumeEntry,
  type VolumeListFilesParams,
  type VolumeRemoveFileParams,
} from "./objects/volume.js";
export { fromPayload, getBlob, inlinePayload, putBlob, toPayload, unwrapResult } from "./payloads.js";
export { Retries, type RetriesParams } from "./retries.js";
export { Cron, Period, type PeriodParams, type Schedule } from "./schedule.js";
export { Secret } from "./secret.js";
export type {
  FetchHandler,
  NodeHandler,
  StandardSchemaV1,
  WebAppParams,
  WebEndpointParams,
  WebRequestInfo,
  WSCloseEvent,
  WSContext,
  WSEvents,
  WSMessageReceive,
  WSUpgradeContext,
} from "./web/index.js";
export { upgradeWebSocket, WebEndpoint } from "./web/index.js";
