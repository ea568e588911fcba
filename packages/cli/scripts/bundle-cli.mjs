// Bundles the `skiff` command (dist/main.js, every command file, the embedded server and local
// provider it starts, the SDK and their npm dependencies) into dist-bundle/ with esbuild: a
// few files instead of ~400. `skiff run` spent about half of its CPU resolving, reading and
// compiling that module graph file by file (bench/RESULTS.md). Run after `tsc -b` (it bundles
// tsc's output); `npm run build`, scripts/test.sh and `npm pack` (prepack) do. bin/skiff.js
// loads the graph instead where the bundle is missing or older than its inputs.
//
// Layout, so that the code keeps finding what it finds beside itself:
// - dist-bundle/ sits one level under the package root, as dist/ does: version.ts reads
//   ../package.json.
// - each file of dist/commands/ is an entry point of its own, in dist-bundle/commands/:
//   program.ts lists that folder and imports each file, as it does in dist/.
// - the SDK's entry points are in dist-bundle/skiff/ with a package.json: an app loaded by the
//   CLI (load-app.ts) links its `import "skiff"` there, and code splitting puts the modules the
//   CLI and the SDK share in shared chunks, so the app's App objects are the CLI's (one instance).
// - the server's and the worker's modules find their files (SQL migrations, the dashboard, the
//   runtime bundle) relative to their own location: each `import.meta.url` in them is replaced
//   by the URL the module had in its package, found where that package is installed; in the
//   CLI's own modules, by their place in dist-bundle/ (see originalUrls).
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const out = join(root, "dist-bundle");
const require = createRequire(join(root, "package.json"));
const skiffPkg = dirname(require.resolve("skiff/package.json"));
const skiffManifest = JSON.parse(readFileSync(join(skiffPkg, "package.json"), "utf8"));

if (!existsSync(join(dist, "main.js")))
  throw new Error(`${dist}/main.js is missing: run \`tsc -b packages/cli\` first`);

// Packages whose modules locate their own files: name → their folder (a link in a checkout's
// node_modules resolves to packages/<name>, which is where esbuild finds the files).
const located = Object.fromEntries(
  ["@skiff/server", "@skiff/worker"].map((name) => [
    name,
    realpathSync(dirname(require.resolve(`${name}/package.json`))),
  ]),
);

/**
 * `import.meta.url` of each module that reads it, as the code expects it:
 * - a server or worker module: the URL it had in its own package;
 * - a CLI module: the URL it would have in dist-bundle/ (dist/x.js → dist-bundle/x.js), which
 *   has the same layout for what they look for (commands/, load-specs-worker.js, skiff/,
 *   ../package.json), whichever output file (main.js, commands/serve.js, a chunk) holds it.
 * Only where the text is code: bundle.ts has `import.meta.url` inside a string (the banner of
 * app bundles), left as it is (an odd number of quotes before it on its line).
 */
const originalUrls = {
  name: "skiff-original-urls",
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const cli = args.path.startsWith(dist + sep) ? dist : undefined;
      const owner = cli ? undefined : Object.entries(located).find(([, dir]) => args.path.startsWith(dir + sep));
      if (!cli && !owner) return undefined;
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const rel = relative(cli ?? owner[1], args.path)
        .split(sep)
        .join("/");
      const url = cli
        ? `new URL(${JSON.stringify(rel)}, __skiffBundleRoot).href`
        : `__skiffModuleUrl(${JSON.stringify(owner[0])}, ${JSON.stringify(rel)})`;
      const contents = text
        .split("\n")
        .map((line) =>
          line.replace(/import\.meta\.url/g, (m, at) => {
            const before = line.slice(0, at);
            const inString = ["'", '"', "`"].some((q) => (before.split(q).length - 1) % 2 === 1);
            return inString ? m : url;
          }),
        )
        .join("\n");
      return { contents, loader: "js", resolveDir: dirname(args.path) };
    });
  },
};

/**
 * The server's index without its PostgresStore export: the CLI opens stores with openStore,
 * which imports the Postgres store when a postgres:// URL asks for it. Re-exported from the
 * index, pg (and the fetch implementation it touches) would load at every `skiff run`, ~30 ms
 * of CPU. A CLI module importing PostgresStore from @skiff/server fails this build.
 */
const serverIndexWithoutPostgres = {
  name: "skiff-server-index-without-postgres",
  setup(b) {
    const index = join(located["@skiff/server"], "dist", "index.js");
    b.onLoad({ filter: /index\.js$/ }, (args) => {
      if (args.path !== index) return undefined;
      const text = readFileSync(index, "utf8");
      const line = 'export { PostgresStore } from "./store/postgres/postgres-store.js";';
      if (!text.includes(line)) throw new Error(`${index} no longer has the line this build removes: ${line}`);
      return { contents: text.replace(line, ""), loader: "js", resolveDir: dirname(index) };
    });
  },
};

/**
 * better-sqlite3 and esbuild (CommonJS, left external) loaded with require() rather than
 * import: an import of CommonJS makes Node parse the module for its export names first
 * (cjs-module-lexer; esbuild's lib/main.js is 97 kB), ~20 ms of CPU at each `skiff run`.
 */
const requireCommonJs = {
  name: "skiff-require-commonjs",
  setup(b) {
    b.onResolve({ filter: /^(better-sqlite3|esbuild)$/ }, (args) =>
      args.kind === "require-call" ? { path: args.path, external: true } : { path: args.path, namespace: "skiff-cjs" },
    );
    // An ES module with the package's exports by name (its keys here, at build time), as
    // Node's import of it would give: the bundle's `await import("esbuild")` reads .build.
    b.onLoad({ filter: /.*/, namespace: "skiff-cjs" }, (args) => {
      const names = Object.keys(require(args.path)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== "default");
      return {
        contents: [
          `const m = require(${JSON.stringify(args.path)});`,
          "export default m;",
          ...names.map((k) => `export const ${k} = m.${k};`),
        ].join("\n"),
        loader: "js",
      };
    });
  },
};

const commands = readdirSync(join(dist, "commands")).filter((f) => f.endsWith(".js"));
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "skiff"), { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    main: join(dist, "main.js"),
    // load-specs.ts starts it as new URL("./load-specs-worker.js", import.meta.url).
    "load-specs-worker": join(dist, "load-specs-worker.js"),
    ...Object.fromEntries(commands.map((f) => [`commands/${f.slice(0, -3)}`, join(dist, "commands", f)])),
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
  // Native or optional: loaded from node_modules where they are installed. esbuild runs its
  // own binary, found from its package.
  external: ["better-sqlite3", "esbuild", "pg-native", "cbor-extract", "bufferutil", "utf-8-validate"],
  // CommonJS inside calls require() for Node's built-ins; the server's and worker's modules
  // ask for their original URL (see originalUrls).
  banner: {
    js: [
      'import { createRequire as __skiffRequire } from "node:module";',
      'import { pathToFileURL as __skiffFileUrl } from "node:url";',
      "const require = __skiffRequire(import.meta.url);",
      'const __skiffModuleUrl = (pkg, rel) => new URL(rel, __skiffFileUrl(require.resolve(pkg + "/package.json"))).href;',
      'const __skiffBundleRoot = import.meta.url.slice(0, import.meta.url.lastIndexOf("/dist-bundle/") + 13);',
    ].join(" "),
  },
  plugins: [serverIndexWithoutPostgres, requireCommonJs, originalUrls],
  legalComments: "none",
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
// What tsc last wrote for each package that went in (its .tsbuildinfo), relative to the
// bundle: bin/skiff.js runs the module graph instead where one is newer than the bundle (tsc
// ran, this did not). A few files to look at on each start, where the ~400 inputs took 35 ms.
const stamps = new Set();
for (const p of Object.keys(result.metafile.inputs)) {
  const m = /^(.*\/)?dist\//.exec(join(root, p));
  if (m && !p.includes("node_modules/")) stamps.add(relative(out, join(m[0], ".tsbuildinfo")));
}
for (const s of stamps) if (!existsSync(join(out, s))) throw new Error(`no ${join(out, s)}: was it built with tsc -b?`);
writeFileSync(join(out, "stamps.json"), `${JSON.stringify([...stamps].sort())}\n`);
