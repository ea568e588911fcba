import { parseArgs } from "node:util";
import { bundleApp } from "../bundle.js";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { loadApps, pickApp } from "../load-app.js";
import { formatBytes, table, ui } from "../output.js";
import { publishApp } from "../publish.js";

export const DEPLOY_HELP = `Usage: skiff deploy <app.ts> [--env NAME]

Deploys the app: its functions become callable by name (Function_.fromName) from any
process with credentials. Deploying again replaces the live version; history is kept.`;

export async function deployCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { env: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError("skiff deploy takes one file: skiff deploy app.ts");
  const file = positionals[0]!;
  const bundle = await bundleApp(file);
  ui.step(`Bundled ${file} (${formatBytes(bundle.code.byteLength)})`);
  const app = pickApp(await loadApps(bundle), file);
  const classes = app._classes.length ? ` and ${app._classes.length} class(es)` : "";
  ui.step(`Loaded app "${app.name}" with ${app._functions.length} function(s)${classes}`);
  const conn = await connect({
    embedded: false,
    ...(values.env ? { environment: values.env } : {}),
    log: ui.info,
  });
  try {
    const res = await publishApp(conn.client, app, bundle, "deployed", conn.environment);
    ui.step(`Deployed "${app.name}" version ${res.version} to environment "${conn.environment}"`);
    ui.out(
      table([
        ["FUNCTION", "ID"],
        ...res.functions.map((f) => [
          f.cls ? `${f.name} (class: ${f.cls.methods.map((m) => m.name).join(", ")})` : f.name,
          f.functionId,
        ]),
      ]),
    );
    const how = [
      ...(app._functions.length ? [`Function_.fromName("${app.name}", "<function>")`] : []),
      ...(app._classes.length ? [`Cls.fromName("${app.name}", "<Class>")`] : []),
    ].join(" or ");
    ui.out(`App "${app.name}" is live at version ${res.version}: call it with ${how}`);
    return 0;
  } finally {
    await conn.close();
  }
}
