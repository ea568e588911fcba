export { Gateway, type GatewayOptions } from "./gateway.js";
export { isWebHost, webPathUrl, webUrl } from "./routes.js";
