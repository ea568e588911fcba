export { defineWeb } from "./define.js";
export { _webDirectOf, _webSpecOf, type WebDirect } from "./registry.js";
export { _deliverWebBody, _setWebBodyPullSender } from "./request-body.js";
export type { EndpointHandler, WebRequestInfo } from "./serve-endpoint.js";
export type { FetchHandler } from "./serve-fetch.js";
export type { NodeHandler } from "./serve-node.js";
export type { InferSchemaOutput, StandardSchemaV1 } from "./standard-schema.js";
export { WebEndpoint } from "./web-endpoint.js";
export { checkLabel, defaultLabel, type WebAppParams, type WebEndpointParams } from "./web-params.js";
export {
  upgradeWebSocket,
  type WSCloseEvent,
  type WSContext,
  type WSEvents,
  type WSMessageReceive,
  type WSUpgradeContext,
} from "./websocket.js";
