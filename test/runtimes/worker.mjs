// A Cloudflare Worker. /calls?client=env: Client.fromEnv(env) per request; ?client=shared: one
// client made by the first request and reused by every later one (a connection per request
// under workerd); /slow?ms=N: a slow call on the shared client, to overlap with another request.
import * as skiff from "skiff";
import { callAll, describeError } from "./calls.mjs";

let shared;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      let client = await skiff.Client.fromEnv(env);
      if (url.searchParams.get("client") === "shared") {
        shared ??= client;
        client = shared;
      }
      if (url.pathname === "/slow") {
        const slow = skiff.Function_.fromName("runtimes-app", "slow", { client });
        return Response.json({ slow: await slow.remote(Number(url.searchParams.get("ms"))) });
      }
      return Response.json(await callAll(skiff, client));
    } catch (e) {
      return Response.json({ error: describeError(e) }, { status: 500 });
    }
  },
};
