/** Programmatic use of the CLI's building blocks (benchmarks, tools). */
export { type Bundle, bundleApp } from "./bundle.js";
export { loadApps, pickApp } from "./load-app.js";
export { type LocalServerOptions, startEmbeddedServer, startLocalServer } from "./local-server.js";
export { main } from "./main.js";
export { publishApp } from "./publish.js";
