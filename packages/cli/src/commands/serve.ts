import type { LogEntry } from "@skiff/protocol";
import type { Command } from "commander";
import { type Bundle, bundleApp } from "../bundle.js";
import { type Connected, connect } from "../connect.js";
import { onInterrupt } from "../interrupt.js";
import { loadSpecs } from "../load-specs.js";
import { ui } from "../output.js";
import { envOption, GROUPS } from "../program.js";
import { publishSpecs } from "../publish.js";
import { watchFiles } from "../watch-files.js";
import { printWebUrls } from "../web-urls.js";

export function register(program: Command): void {
  program
    .command("serve")
    .helpGroup(GROUPS.apps)
    .summary("serve an app's web endpoints, reloading on every saved change")
    .description(
      "Runs the app as an ephemeral app whose web endpoints stay at the same URLs (http://<app>--<label>-dev.localhost:<port>) while you edit it: each saved change to a file of the app is bundled and published again (new containers serve the next request), and the previous version is stopped. Container logs stream here. Ctrl-C stops the app.\n\nWith no server configured (or with --embedded), an embedded one runs for the length of the command.",
    )
    .argument("<app.ts>", "the app file")
    .addOption(envOption())
    .option("--embedded", "serve from a server started for this command, whatever server is configured")
    .action(serveCommand);
}

async function serveCommand(file: string, values: { env?: string; embedded?: boolean }): Promise<void> {
  // A first bundle that fails is an error; later ones only keep the last good version serving.
  let bundle = await bundleApp(file);
  const conn = await connect({
    embedded: values.embedded ? "force" : true,
    embeddedHint: `skiff serve --embedded ${file}`,
    ...(values.env ? { environment: values.env } : {}),
    log: (m) => ui.info(ui.dim(`[server] ${m}`)),
  });
  const serving = new Serving(conn);
  // A first Ctrl-C stops the app and cleans up; a second exits at once.
  const interrupt = onInterrupt();
  try {
    await serving.publish(bundle, true);
    let stopWatch = watchFiles(bundle.inputs, () => void reload());
    let reloading: Promise<void> | undefined;
    let again = false;
    const reload = async (): Promise<void> => {
      if (reloading) {
        again = true;
        return;
      }
      reloading = (async () => {
        const started = performance.now();
        try {
          const next = await bundleApp(file);
          // A save that changed nothing the bundle holds (formatting, a touch) needs no new version.
          if (next.hash !== bundle.hash) {
            bundle = next;
            await serving.publish(bundle, false);
            ui.step(`Reloaded ${file} in ${Math.round(performance.now() - started)} ms`);
          }
        } catch (err) {
          ui.error(`reload failed, the previous version keeps serving: ${(err as Error).message}`);
        }
        stopWatch();
        stopWatch = watchFiles(bundle.inputs, () => void reload());
      })();
      await reloading;
      reloading = undefined;
      if (again) {
        again = false;
        await reload();
      }
    };
    ui.step(`Serving ${file}; watching ${bundle.inputs.length} file(s) for changes (Ctrl-C stops)`);
    await interrupt.signal;
    stopWatch();
  } finally {
    await serving.stop();
    await conn.close();
    interrupt.dispose();
  }
}

/** How long a replaced version keeps running for the requests it already has. */
const RETIRE_MS = 3000;

/** The app version being served: each publish starts a new ephemeral app and stops the old. */
class Serving {
  private appId: string | undefined;
  private subscription: string | undefined;
  private readonly env: string;
  /** Old versions still finishing their requests. */
  private readonly retiring = new Set<string>();

  constructor(private readonly conn: Connected) {
    this.env = conn.environment;
    conn.client._connection.on("log", ({ subscriptionId, entry }: { subscriptionId: string; entry: LogEntry }) => {
      if (subscriptionId !== this.subscription) return;
      (entry.stream === "stderr" ? process.stderr : process.stdout).write(entry.text);
    });
  }

  async publish(bundle: Bundle, first: boolean): Promise<void> {
    const { name, specs } = await loadSpecs(bundle);
    const res = await publishSpecs(this.conn.client, name, specs, bundle, "ephemeral", this.env);
    const old = this.appId;
    const oldSub = this.subscription;
    this.appId = res.appId;
    const logs = await this.conn.client.request("app.logs", {
      appId: res.appId,
      environment: this.env,
      tail: 0,
      follow: true,
    });
    this.subscription = logs.subscriptionId;
    if (first) printWebUrls(this.conn.client.serverUrl, res.functions);
    // The new version took the URLs when it was published; the old one gets a moment to
    // finish the requests it is serving, then stops.
    if (oldSub) await this.conn.client.request("logs.unsubscribe", { subscriptionId: oldSub }).catch(() => {});
    if (old) {
      this.retiring.add(old);
      setTimeout(() => void this.stopApp(old), RETIRE_MS).unref();
    }
  }

  private async stopApp(appId: string): Promise<void> {
    this.retiring.delete(appId);
    await this.conn.client.request("app.stop", { appId, environment: this.env }).catch(() => {});
  }

  async stop(): Promise<void> {
    await Promise.all([...this.retiring, ...(this.appId ? [this.appId] : [])].map((id) => this.stopApp(id)));
  }
}
