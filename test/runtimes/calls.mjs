// The calls each runtime makes (test/runtimes.test.ts): lookup, fromName, remote, map, spawn and
// FunctionCall.fromId().get(). `client` undefined: the default client (Client.fromEnv()).
export async function callAll(skiff, client) {
  const { Function_, FunctionCall } = skiff;
  const opts = client ? { client } : {};
  const square = await Function_.lookup("runtimes-app", "square", opts);
  const remote = await square.remote(7);
  const map = [];
  for await (const v of square.map([1, 2, 3])) map.push(v);
  const call = await square.spawn(9);
  const spawned = await FunctionCall.fromId(call.objectId, opts).get({ timeoutMs: 30_000 });
  const lazy = await Function_.fromName("runtimes-app", "square", opts).remote(5);
  return { remote, map, spawned, lazy, callId: call.objectId };
}

/** One line for an error: its class and message. */
export const describeError = (e) => `${e?.name}: ${e?.message}`;
