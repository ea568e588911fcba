import type { Command } from "commander";
import { withServer } from "../connect.js";
import { formatBytes, table, ui } from "../output.js";
import { commandGroup, envOption, GROUPS } from "../program.js";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

type Env = { env?: string };

export function register(program: Command): void {
  const image = commandGroup(program, "image", "image layers on the server (api.md §1a)", GROUPS.apps);
  image
    .command("list")
    .description(
      "Every stored layer, most recently used first: its key, the step that made it, the bytes of its own files (unchanged files are hard links to its parent's), when it was last used, and the live apps whose images are built on it.",
    )
    .summary("image layers: key, step, size, last used, apps using them")
    .addOption(envOption())
    .action((o: Env) =>
      withServer(o, async (c) => {
        const { layers, bytes, limitBytes } = await c.request("image.list", {});
        if (layers.length === 0) {
          ui.info("No image layers stored.");
          return;
        }
        ui.out(
          table([
            ["KEY", "STEP", "SIZE", "LAST USED", "APPS"],
            ...layers.map((l) => [
              l.key.slice(0, 12),
              l.step.length > 60 ? `${l.step.slice(0, 57)}...` : l.step,
              formatBytes(l.bytes),
              when(l.lastUsedAt),
              l.apps.join(",") || "-",
            ]),
          ]),
        );
        ui.info(
          `${layers.length} layer(s), ${formatBytes(bytes)} of ${formatBytes(limitBytes)} (least recently used layers no live app uses are evicted past it)`,
        );
      }),
    );
  image
    .command("prune")
    .description("Removes every layer that no live app's image is built on (needs an admin token).")
    .summary("remove the layers no live app uses")
    .addOption(envOption())
    .action((o: Env) =>
      withServer(o, async (c) => {
        const { removed, bytes } = await c.request("image.prune", {});
        ui.step(`Removed ${removed} layer(s), ${formatBytes(bytes)}`);
      }),
    );
}
