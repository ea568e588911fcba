import { dirname } from "node:path";
import type { FunctionInfo, FunctionSpec, RequestResult } from "@skiff/protocol";
import { type App, type Client, putBlob } from "skiff";
import type { Bundle } from "./bundle.js";
import { buildImages, imagePackagesExternal } from "./images.js";
import { ui } from "./output.js";

/** Uploads the bundle and creates (or redeploys) the app; binds its functions. */
export async function publishApp(
  client: Client,
  app: App,
  bundle: Bundle,
  mode: "ephemeral" | "deployed",
  environment: string,
): Promise<{ appId: string; version: number; functions: FunctionInfo[] }> {
  const functions = await buildImages(client, app._specs(), dirname(bundle.entry));
  const blobId = await putBlob(client, (await imagePackagesExternal(bundle, functions)).code);
  const res = await client.request("app.publish", {
    name: app.name,
    environment,
    mode,
    bundleBlobId: blobId,
    functions,
  });
  for (const w of res.warnings ?? []) ui.warn(w);
  app._bind(client, res.functions);
  return res;
}

/** Uploads the bundle and publishes functions from their specs (no App object in this process). */
export async function publishSpecs(
  client: Client,
  name: string,
  specs: FunctionSpec[],
  bundle: Bundle,
  mode: "ephemeral" | "deployed",
  environment: string,
): Promise<RequestResult<"app.publish">> {
  const functions = await buildImages(client, specs, dirname(bundle.entry));
  const blobId = await putBlob(client, (await imagePackagesExternal(bundle, functions)).code);
  const res = await client.request("app.publish", { name, environment, mode, bundleBlobId: blobId, functions });
  for (const w of res.warnings ?? []) ui.warn(w);
  return res;
}
