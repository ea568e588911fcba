import type { FunctionInfo } from "@skiff/protocol";
import type { App, Client } from "skiff";
import type { Bundle } from "./bundle.js";

/** Uploads the bundle and creates (or redeploys) the app; binds its functions. */
export async function publishApp(
  client: Client,
  app: App,
  bundle: Bundle,
  mode: "ephemeral" | "deployed",
  environment: string,
): Promise<{ appId: string; version: number; functions: FunctionInfo[] }> {
  const { blobId } = await client.request("blob.put", { data: bundle.code }, { retryable: true });
  const res = await client.request("app.publish", {
    name: app.name,
    environment,
    mode,
    bundleBlobId: blobId,
    functions: app._specs(),
  });
  app._bind(client, res.functions);
  return res;
}
