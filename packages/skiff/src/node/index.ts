/**
 * The `node` entry of the package (its `node` export condition: Node, Bun, Deno, esbuild
 * --platform=node): the portable SDK plus what needs Node's built-ins (platform.ts).
 */
import { _installNodeCapabilities } from "../platform.js";
import { serveFetch } from "../web/serve-fetch.js";
import { serveNode } from "../web/serve-node.js";
import { configPath, readProfiles, writeProfile } from "./config-file.js";
import { openFramedSocket } from "./framed-socket.js";
import { openWsSocket } from "./ws-socket.js";

_installNodeCapabilities({
  openWsSocket,
  openFramedSocket,
  configPath,
  readProfiles,
  writeProfile,
  serveFetch,
  serveNode,
});

export * from "../index.js";
