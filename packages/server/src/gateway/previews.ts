import { decodePayload, type ErrorDetails, type Payload, type ValuePreview } from "@skiff/protocol";
import type { BlobStore } from "../store/blobs/blob-store.js";
import { toJsonValue } from "./json-value.js";

/** Characters of a value's JSON shown in the dashboard. */
export const PREVIEW_CHARS = 4096;
/** Values above this are not decoded for a preview (a 60 MB argument stays in its blob). */
const DECODE_LIMIT_BYTES = 1024 * 1024;
/** Characters of a remote stack shown. */
const STACK_CHARS = 8192;

export function cut(text: string, limit: number): { text: string; truncated: boolean } {
  return text.length <= limit ? { text, truncated: false } : { text: text.slice(0, limit), truncated: true };
}

/** The bytes of a payload, unless it is too large to decode for a preview. */
async function bytesOf(p: Payload, blobs: BlobStore): Promise<{ data?: Uint8Array; size: number; blob?: string }> {
  if (p instanceof Uint8Array) return { data: p, size: p.byteLength };
  const data = await blobs.get(p.blob);
  if (!data) return { size: 0, blob: p.blob };
  return data.byteLength > DECODE_LIMIT_BYTES
    ? { size: data.byteLength, blob: p.blob }
    : { data, size: data.byteLength };
}

/** A value as a short JSON text; never the whole of a large one. */
export async function previewPayload(p: Payload, blobs: BlobStore, limit = PREVIEW_CHARS): Promise<ValuePreview> {
  const b = await bytesOf(p, blobs);
  if (!b.data) {
    const what = b.size > 0 ? `${(b.size / 1024 / 1024).toFixed(1)} MiB` : "a value whose blob is gone";
    return { text: `<${what} in blob ${b.blob}: too large to preview>`, truncated: true, bytes: b.size };
  }
  let text: string;
  try {
    text = JSON.stringify(toJsonValue(decodePayload(b.data)), null, 1) ?? "null";
  } catch (err) {
    text = `<cannot decode: ${(err as Error).message}>`;
  }
  return { ...cut(text, limit), bytes: b.size };
}

/** An error payload: name, message and the remote stack (cut). */
export async function previewError(p: Payload, blobs: BlobStore): Promise<ErrorDetails> {
  const b = await bytesOf(p, blobs);
  if (!b.data) return { name: "Error", message: `<error of ${b.size} bytes: too large to preview>`, stack: "" };
  try {
    const e = decodePayload(b.data) as { name?: unknown; message?: unknown; stack?: unknown } | undefined;
    return {
      name: String(e?.name ?? "Error"),
      message: cut(String(e?.message ?? ""), PREVIEW_CHARS).text,
      stack: cut(typeof e?.stack === "string" ? e.stack : "", STACK_CHARS).text,
    };
  } catch (err) {
    return { name: "Error", message: `<cannot decode the error: ${(err as Error).message}>`, stack: "" };
  }
}
