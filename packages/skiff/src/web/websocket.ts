import type { WebSocket } from "ws";

/** Data a message carries: text as a string, binary as an ArrayBuffer (Hono's Node adapter's). */
export type WSMessageReceive = string | ArrayBuffer;

/** The socket a Fetch app's WebSocket events get: Hono's `WSContext`. */
export interface WSContext {
  send(data: string | ArrayBuffer | Uint8Array, options?: { compress?: boolean }): void;
  close(code?: number, reason?: string): void;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: 0 | 1 | 2 | 3;
  readonly url: URL | null;
  readonly protocol: string | null;
  /** The `ws` WebSocket underneath. */
  readonly raw: WebSocket;
  binaryType: "arraybuffer" | "blob";
}

/** The close event's fields (Node 20 has no global CloseEvent). */
export interface WSCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** Hono's `WSEvents`: what `upgradeWebSocket`'s callback returns. */
export interface WSEvents {
  onOpen?: (evt: Event, ws: WSContext) => void;
  onMessage?: (evt: MessageEvent & { readonly data: WSMessageReceive }, ws: WSContext) => void;
  onClose?: (evt: WSCloseEvent, ws: WSContext) => void;
  onError?: (evt: Event, ws: WSContext) => void;
}

/** What `upgradeWebSocket` needs of a Hono Context (annotate `c: Context` for all of Hono's). */
export interface WSUpgradeContext {
  req: { raw: Request; url: string; path: string; method: string; header(name: string): string | undefined };
}

type UpgradeContext = WSUpgradeContext | Request;

/** Upgrade requests being served in this container, by their Request (set by serveFetch). */
const pending = new WeakMap<Request, { events?: WSEvents }>();

/** Internal: serveFetch marks an upgrade request before handing it to the app. */
export function _expectUpgrade(request: Request): { events?: WSEvents } {
  const slot: { events?: WSEvents } = {};
  pending.set(request, slot);
  return slot;
}

/**
 * Accepts a WebSocket upgrade in a `fetchApp`, with Hono's signature:
 * `app.get("/ws", upgradeWebSocket((c) => ({ onMessage(evt, ws) { ws.send(evt.data) } })))`.
 * A request that is not a WebSocket upgrade goes on to `next()`. With a router that passes a
 * bare Request (itty-router), call it with the request and no `next`.
 */
export function upgradeWebSocket<C extends UpgradeContext = WSUpgradeContext>(
  createEvents: (c: C) => WSEvents | Promise<WSEvents>,
): (c: C, next?: () => Promise<void>) => Promise<Response | undefined> {
  return async (c, next) => {
    const request = c instanceof Request ? c : c.req.raw;
    const slot = pending.get(request);
    if (!slot || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      if (next) await next();
      return undefined;
    }
    slot.events = await createEvents(c);
    // The handshake itself is the `ws` server's (serveFetch): this answer is not sent.
    return new Response(null, { status: 200, headers: { "skiff-websocket": "accepted" } });
  };
}
