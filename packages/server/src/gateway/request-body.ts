import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import type { EventMap } from "@skiff/protocol";
import { HttpError } from "./http-error.js";

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, "payload_too_large", `the request body is over the ${limit}-byte limit`);
}

/** The declared length, or undefined for a chunked body. @throws HttpError 413 past `limit`. */
export function declaredLength(req: IncomingMessage, limit: number): number | undefined {
  const cl = req.headers["content-length"];
  if (cl === undefined) return undefined;
  const n = Number(cl);
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, "invalid_argument", "invalid Content-Length");
  if (n > limit) throw tooLarge(limit);
  return n;
}

/** Reads a whole body of at most `limit` bytes. @throws HttpError 413 past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.byteLength;
      if (n > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
    // The client went away half-way: nothing is started for it.
    req.on("close", () => {
      if (!req.complete) reject(new HttpError(400, "aborted", "the client went away before sending the whole body"));
    });
  });
}

/** A JSON body parsed, or undefined when empty. @throws HttpError 400 with the parse error. */
export function parseJson(body: Buffer): unknown {
  if (body.byteLength === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpError(400, "invalid_argument", `malformed JSON body: ${(err as Error).message}`);
  }
}

type Send = (body: EventMap["web.body"]) => void;
type Ending = { end: true } | { error: string };

/**
 * Streams a request body to the container that runs the call, only as far as its credit
 * (`web.body.pull`) allows: the socket is paused otherwise, so nothing piles up here and a
 * slow handler slows the client's upload.
 */
export class BodyPump {
  private credit = 0;
  private send: Send | undefined;
  private inputId = "";
  private received = 0;
  /** Set once the body ended or broke; kept to tell a container that asks afterwards. */
  private ending: Ending | undefined;

  constructor(
    /** The request, or an upgraded socket (what its client sends after the request head). */
    private readonly req: Readable,
    private readonly limit: number,
    /** The body went over the limit. */
    private readonly onTooLarge: (err: HttpError) => void,
  ) {
    req.pause();
    req.on("data", (c: Buffer) => this.onData(c));
    req.on("end", () => this.finish({ end: true }));
    // Aborted half-way (or a malformed chunked body): the handler's request breaks off.
    req.on("close", () => this.finish({ error: "the client went away" }));
    req.on("error", () => {});
  }

  /** The container running `inputId` may take `bytes` more. */
  pull(inputId: string, bytes: number, send: Send): void {
    if (this.send && this.inputId !== inputId) {
      // A new attempt after a lost container: the body already went to the old one.
      send({ inputId, chunks: [], error: "the request body went to an attempt that was lost" });
      return;
    }
    const first = !this.send;
    this.send = send;
    this.inputId = inputId;
    if (this.ending) {
      if (first) send({ inputId, chunks: [], ...this.ending });
      return;
    }
    this.credit += bytes;
    if (this.credit > 0) this.req.resume();
  }

  private onData(c: Buffer): void {
    if (this.ending) return;
    this.received += c.byteLength;
    if (this.received > this.limit) {
      this.finish({ error: `the request body is over the ${this.limit}-byte limit` });
      this.req.resume(); // drop the rest
      this.onTooLarge(tooLarge(this.limit));
      return;
    }
    this.send?.({ inputId: this.inputId, chunks: [c] });
    this.credit -= c.byteLength;
    if (this.credit <= 0) this.req.pause();
  }

  private finish(how: Ending): void {
    if (this.ending) return;
    this.ending = how;
    this.send?.({ inputId: this.inputId, chunks: [], ...how });
  }
}
