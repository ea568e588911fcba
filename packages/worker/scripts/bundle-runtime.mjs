// Bundles the container runtime (dist/runtime/main.js, its worker-thread entry and everything
// they import: the SDK, the protocol, ws, cbor-x) into dist/runtime-bundle/ with esbuild: a few
// files instead of ~90. A container start spent two thirds of its CPU resolving and compiling
// that module graph file by file (bench/start-cost.ts). Run after `tsc -b` (it bundles tsc's
// output); `npm run build` and scripts/test.sh do, and `npm pack` does through prepack.
//
// The SDK is an entry point of its own, at runtime-bundle/skiff/ with a package.json: an app
// bundle's `import "skiff"` is linked there (runtime/load-bundle.ts), and code splitting puts
// the modules both import in shared chunks, so the app and the runtime share one SDK instance
// (registries, currentInputId(), error classes), as they did unbundled.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "dist/runtime-bundle");
const require = createRequire(join(root, "package.json"));
const skiffPkg = dirname(require.resolve("skiff/package.json"));
const skiffManifest = JSON.parse(readFileSync(join(skiffPkg, "package.json"), "utf8"));

/** `require` for the bundle's CommonJS modules; LAZY built-ins are loaded on first property use. */
const REQUIRE_BANNER = [
  'import { createRequire as __skiffRequire } from "node:module";',
  "const __skiffReq = __skiffRequire(import.meta.url);",
  'const __skiffLazy = new Set(["tls", "https", "zlib", "node:tls", "node:https", "node:zlib"]);',
  "const require = Object.assign((id) => __skiffLazy.has(id) ? new Proxy({}, { get: (_, k) => __skiffReq(id)[k], has: (_, k) => k in __skiffReq(id) }) : __skiffReq(id), { resolve: __skiffReq.resolve, cache: __skiffReq.cache });",
].join(" ");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "skiff"), { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    main: join(root, "dist/runtime/main.js"),
    // thread-pool.ts starts it as new URL("./thread-main.js", import.meta.url): beside the chunks.
    "thread-main": join(root, "dist/runtime/thread-main.js"),
    "skiff/index": join(skiffPkg, skiffManifest.exports["."].node),
    "skiff/internal": join(skiffPkg, skiffManifest.exports["./internal"].default),
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Function and class names stay what they were (error names, stack traces, `fn.name`).
  keepNames: true,
  // Optional native helpers, loaded with require() in a try: none is built here (allowScripts).
  external: ["cbor-extract", "bufferutil", "utf-8-validate"],
  // CommonJS inside (ws) calls require() for Node's built-ins. ws requires tls, https and zlib
  // at its top but uses them only for wss:// URLs and permessage-deflate, which the runtime never
  // asks for (a plain ws+unix socket): those three load on their first use instead, not at every
  // container start (~3 ms of CPU each start on the 2-core VM, bench/start-cost.ts).
  banner: { js: REQUIRE_BANNER },
  legalComments: "none",
  // Whitespace and syntax only (names stay): every container start parses these files, and
  // 0.29 MB instead of 0.46 MB took its imports from ~29 to ~20 ms of CPU (bench/start-cost.ts).
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: "warning",
});
writeFileSync(join(out, "package.json"), `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`);
writeFileSync(
  join(out, "skiff/package.json"),
  `${JSON.stringify(
    {
      name: "skiff",
      version: skiffManifest.version,
      type: "module",
      exports: { ".": "./index.js", "./internal": "./internal.js", "./package.json": "./package.json" },
    },
    null,
    2,
  )}\n`,
);
// What went in, relative to the bundle: a checkout whose sources are newer than the bundle
// (tsc ran, this did not) runs the module graph instead of a stale bundle (runtime-bundle.ts).
const inputs = Object.keys(result.metafile.inputs).map((p) => relative(out, join(root, p)));
writeFileSync(join(out, "inputs.json"), `${JSON.stringify(inputs)}\n`);
