// Bundles the dashboard (packages/server/ui, Preact + htm) with esbuild into dist/ui/: one
// script and one stylesheet, served by the server itself (no CDN: it works offline).
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = `${root}dist/ui`;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${root}ui/main.ts`],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  outfile: `${out}/app.js`,
  logLevel: "warning",
});
copyFileSync(`${root}ui/app.css`, `${out}/app.css`);
