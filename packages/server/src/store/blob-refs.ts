import type { CallOutcome, Payload } from "@skiff/protocol";

/** The blob a payload refers to, if it travels as one. */
export function payloadBlob(p: Payload | undefined): string | null {
  return p && !(p instanceof Uint8Array) ? p.blob : null;
}

/** The blob an outcome's payload (a result or an error) refers to. */
export function outcomeBlob(o: CallOutcome): string | null {
  if (o.kind !== "result") return null;
  const r = o.result;
  if (r.status === "success") return payloadBlob(r.data);
  if (r.status === "failure" || r.status === "init_failure") return payloadBlob(r.error);
  return null;
}
