/** Internals shared with the container runtime and the CLI (both on Node); not part of the public API. */

import "./node/index.js";

export { type ClassDef, classSpec } from "./class-def.js";
export { Connection, type ConnectionOptions, type RequestOptions } from "./transport/connection.js";
export { _deliverWebBody, _setWebBodyPullSender, _webDirectOf, _webSpecOf, type WebDirect } from "./web/index.js";
