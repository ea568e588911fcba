import type { WebRequestWire } from "@skiff/protocol";

/** A small GET as the gateway hands it to a container: what the web benches time a request with. */
export function smallWebRequest(url: string): WebRequestWire {
  return {
    requestId: "rq-0123456789abcdef01234567",
    method: "GET",
    url,
    headers: [
      ["Host", "127.0.0.1:43567"],
      ["Connection", "keep-alive"],
    ],
    body: { kind: "none" },
    remoteAddress: "127.0.0.1",
    remotePort: 54321,
  };
}
