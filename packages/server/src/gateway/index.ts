export { Gateway, type GatewayOptions } from "./gateway.js";
export { webPathUrl, webUrl } from "./routes.js";
