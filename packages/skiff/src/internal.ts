/** Internals shared with the container runtime and the CLI; not part of the public API. */

export { type ClassDef, classSpec } from "./class-def.js";
export { Connection, type ConnectionOptions, type RequestOptions } from "./transport/connection.js";
