import type { InputColumnsWire, Outgoing, Payload } from "@skiff/protocol";
import type { BlobGrants } from "../auth/blob-grants.js";

/**
 * What a message queued for a connection counts against its outbox bound (peer.ts), and the
 * blobs it grants a container on the way (each payload reference `{ blob: id }` met).
 * `inputs.cols` (one per hand-out to a container, every warm `.remote`) is counted from its
 * known fields rather than walked key by key: the walk took about a microsecond of the
 * server's time per call. Same bound, same grants.
 */
export function outgoingSize(msg: Outgoing, grants?: BlobGrants): number {
  if (!Array.isArray(msg) && msg.t === "inputs.cols")
    return 32 + inputColumnsSize((msg as { b: { groups: InputColumnsWire[] } }).b.groups, grants);
  return approxSize(msg, 0, grants);
}

function inputColumnsSize(groups: InputColumnsWire[], grants: BlobGrants | undefined): number {
  let n = 0;
  for (const g of groups) {
    n += 64 + g.callId.length + (g.method?.length ?? 0);
    for (const id of g.inputIds) n += id.length + 2;
    n += 9 * g.attempts.length;
    const args = g.args;
    if (Array.isArray(args)) for (const a of args) n += payloadSize(a, grants);
    else n += args.bytes.byteLength + 9 * args.lens.length + 16;
  }
  return n;
}

function payloadSize(p: Payload, grants: BlobGrants | undefined): number {
  return p instanceof Uint8Array ? p.byteLength + 4 : approxSize(p, 0, grants);
}

/**
 * A cheap upper-bound-ish estimate of a message's encoded size: bytes and strings at their
 * length, everything else a few bytes. Deep or long structures are counted in full. With
 * `grants` (a container's), each payload reference `{ blob: id }` met is granted.
 */
export function approxSize(v: unknown, depth: number, grants?: BlobGrants): number {
  if (v === null || typeof v !== "object") return typeof v === "string" ? v.length + 2 : 9;
  if (ArrayBuffer.isView(v)) return v.byteLength + 4;
  if (depth > 32) return 9;
  let n = 2;
  if (Array.isArray(v)) for (const x of v) n += approxSize(x, depth + 1, grants);
  else if (v instanceof Map)
    for (const [k, x] of v) n += approxSize(k, depth + 1, grants) + approxSize(x, depth + 1, grants);
  else
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      if (grants && k === "blob" && typeof x === "string") grants.add(x);
      n += k.length + 1 + approxSize(x, depth + 1, grants);
    }
  return n;
}
