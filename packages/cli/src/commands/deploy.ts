import type { Command } from "commander";
import { bundleApp } from "../bundle.js";
import { connect } from "../connect.js";
import { loadApps, pickApp } from "../load-app.js";
import { formatBytes, table, ui } from "../output.js";
import { envOption, GROUPS } from "../program.js";
import { publishApp } from "../publish.js";
import { printWebUrls } from "../web-urls.js";

export function register(program: Command): void {
  program
    .command("deploy")
    .helpGroup(GROUPS.apps)
    .summary("deploy an app: its functions become callable by name")
    .description(
      "Deploys the app: its functions become callable by name (Function_.fromName) from any process with credentials. Deploying again replaces the live version; history is kept.",
    )
    .argument("<app.ts>", "the app file")
    .addOption(envOption())
    .action(deployCommand);
}

async function deployCommand(file: string, values: { env?: string }): Promise<void> {
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
    printWebUrls(conn.client.serverUrl, res.functions);
    const how = [
      ...(app._functions.length ? [`Function_.fromName("${app.name}", "<function>")`] : []),
      ...(app._classes.length ? [`Cls.fromName("${app.name}", "<Class>")`] : []),
    ].join(" or ");
    ui.out(`App "${app.name}" is live at version ${res.version}: call it with ${how}`);
  } finally {
    await conn.close();
  }
}
