import type { ServerResponse } from "node:http";
import type { ObjectEntries, ObjectSummary } from "@skiff/protocol";
import type { Objects } from "../objects/index.js";
import { HttpError, sendJson } from "./http-error.js";

/** Objects listed at most (the page shows them all; sizes cost one query each). */
const MAX_OBJECTS = 200;
/** Dict keys on one page. */
const KEYS_PAGE = 100;
/** Entries of one volume directory shown. */
const DIR_ENTRIES = 1000;

function only(url: URL, allowed: string[]): void {
  for (const k of url.searchParams.keys())
    if (!allowed.includes(k))
      throw new HttpError(
        400,
        "invalid_argument",
        `unknown parameter "${k}" (this route takes: ${allowed.join(", ") || "none"})`,
      );
}

/** A Dict key as the wire encodes it ("s:…", "n:…", "b:…"), shown as its value. */
function keyText(k: string): string {
  return k.length > 1 && k[1] === ":" ? (k[0] === "s" ? k.slice(2) : `${k.slice(2)}${k[0] === "b" ? "n" : ""}`) : k;
}

/**
 * The dashboard's read-only view of objects (docs/dashboard.md): named Dicts, Queues and
 * Volumes of an environment with their sizes, a Dict's keys a page at a time, and a Volume's
 * directories. Reads the object services; changes nothing.
 */
export class ObjectsApi {
  constructor(private readonly objects: Objects) {}

  async list(res: ServerResponse, url: URL): Promise<void> {
    only(url, ["environment"]);
    const env = url.searchParams.get("environment") || "main";
    const out: ObjectSummary[] = [];
    for (const kind of ["dict", "queue", "volume"] as const) {
      for (const o of await this.objects.registry.list({}, kind, env)) {
        if (out.length >= MAX_OBJECTS) break;
        const size =
          kind === "dict"
            ? await this.objects.dicts.len(o.objectId)
            : kind === "queue"
              ? await this.objects.queues.len(o.objectId, undefined)
              : null;
        out.push({ id: o.objectId, kind, name: o.name, environment: o.environment, createdAt: o.createdAt, size });
      }
    }
    sendJson(res, 200, { objects: out });
  }

  async dictKeys(res: ServerResponse, url: URL, id: string): Promise<void> {
    only(url, ["after"]);
    const after = url.searchParams.get("after") ?? undefined;
    const rows = await this.objects.dicts.scan(id, after, KEYS_PAGE + 1, false);
    const page = rows.slice(0, KEYS_PAGE);
    const out: ObjectEntries = {
      entries: page.map((r) => ({ name: keyText(r.key), type: "key", size: null })),
      next: rows.length > KEYS_PAGE ? page[page.length - 1]!.key : null,
    };
    sendJson(res, 200, out);
  }

  async volumeFiles(res: ServerResponse, url: URL, id: string): Promise<void> {
    only(url, ["path"]);
    const path = (url.searchParams.get("path") ?? "").replace(/^\/+|\/+$/g, "");
    if (path.split("/").some((p) => p === ".." || p === "."))
      throw new HttpError(400, "invalid_argument", "path must not contain . or .. segments");
    const entries = (await this.objects.volumes.list(id, path, false)).slice(0, DIR_ENTRIES);
    const out: ObjectEntries = {
      entries: entries.map((e) => ({ name: e.path, type: e.type, size: e.type === "file" ? e.size : null })),
      next: null,
    };
    sendJson(res, 200, out);
  }
}
