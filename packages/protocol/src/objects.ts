/**
 * The wire of Dicts, Queues and Volumes (api.md §7). Objects are named per environment (one
 * name space across kinds) or ephemeral; a handle resolves its name to an id once and then
 * sends the id.
 */

import type { Payload } from "./messages.js";

export type ObjectKindWire = "dict" | "queue" | "volume";

export interface ObjectInfo {
  objectId: string;
  kind: ObjectKindWire;
  name: string;
  environment: string;
  createdAt: number;
}

/** A Dict key on the wire: its type and value as one string ("s:…", "n:…", "b:…"). */
export type DictKeyWire = string;

/** Keys are strings, numbers or bigints (api.md §7); one encoding keeps their type. */
export type DictKey = string | number | bigint;

/** Longest key, once encoded. */
export const MAX_DICT_KEY_CHARS = 4096;

/** Names of objects: as for apps and secrets. */
export const OBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Longest queue partition name. */
export const MAX_PARTITION_CHARS = 64;

export function encodeDictKey(key: unknown): DictKeyWire | undefined {
  if (typeof key === "string") return `s:${key}`;
  if (typeof key === "bigint") return `b:${key}`;
  // -0 and 0 are one key, as in a Map.
  if (typeof key === "number" && Number.isFinite(key)) return `n:${Object.is(key, -0) ? 0 : key}`;
  return undefined;
}

export function decodeDictKey(wire: DictKeyWire): DictKey {
  const body = wire.slice(2);
  switch (wire.slice(0, 2)) {
    case "s:":
      return body;
    case "b:":
      return BigInt(body);
    case "n:":
      return Number(body);
    default:
      throw new Error(`not a dict key: ${JSON.stringify(wire.slice(0, 20))}`);
  }
}

export interface DictEntryWire {
  key: DictKeyWire;
  value?: Payload;
}

/** Requests of objects: name -> [params, result]. Part of RequestMap. */
export interface ObjectRequestMap {
  /** Resolves a named object (creating it with createIfMissing). */
  "object.get": [
    { kind: ObjectKindWire; name: string; environment: string; createIfMissing: boolean },
    {
      objectId: string;
      created: boolean;
      /** The server takes queue.put's values as `items` (one CBOR array). */
      packed?: boolean;
    },
  ];
  /** A new ephemeral object, deleted with its app (from a container) or its client session. */
  "object.ephemeral": [
    { kind: ObjectKindWire; environment: string },
    { objectId: string /** As object.get's. */; packed?: boolean },
  ];
  "object.list": [{ kind: ObjectKindWire; environment: string }, { objects: ObjectInfo[] }];
  /** Deletes by name, or by id (an ephemeral object at the end of its scope). */
  "object.delete": [
    { kind: ObjectKindWire; environment: string; name?: string; objectId?: string },
    Record<string, never>,
  ];

  "dict.put": [{ objectId: string; key: DictKeyWire; value: Payload; skipIfExists: boolean }, { written: boolean }];
  "dict.update": [{ objectId: string; entries: DictEntryWire[] }, Record<string, never>];
  "dict.get": [{ objectId: string; key: DictKeyWire }, { value?: Payload }];
  "dict.has": [{ objectId: string; key: DictKeyWire }, { found: boolean }];
  /** Removes a key; returns its value when `pop` (and whether it was there). */
  "dict.delete": [{ objectId: string; key: DictKeyWire; pop: boolean }, { found: boolean; value?: Payload }];
  "dict.len": [{ objectId: string }, { n: number }];
  /** A page of entries in key order after `after`; `values` false leaves values out. */
  "dict.scan": [
    { objectId: string; after?: DictKeyWire; limit: number; values: boolean },
    { entries: DictEntryWire[]; done: boolean },
  ];
  "dict.clear": [{ objectId: string }, Record<string, never>];

  /**
   * Appends items to a partition ("" is the default one): each item one CBOR data item, sent
   * either as `values` (a byte string each) or, to a server that said `packed` at object.get,
   * as `items`: one CBOR array holding them (what encoding the list of values gives). An item
   * must decode alone as it does in that array: no tag that refers to other items (cbor-x's
   * shared references, packed values, records, bundled strings).
   */
  "queue.put": [
    { objectId: string; partition: string; values?: Uint8Array[]; items?: Uint8Array },
    Record<string, never>,
  ];
  /**
   * Takes up to n items, waiting up to timeoutMs (forever when absent) for the first. The
   * items are leased to this connection until a queue.ack event names leaseId; if the
   * connection is lost first they go back to the front of their partition. With `packed`, a
   * server that knows it answers `items` (one CBOR array of the items) instead of `values`.
   */
  "queue.get": [
    { objectId: string; partition: string; n: number; timeoutMs?: number; packed?: boolean },
    { values?: Uint8Array[]; items?: Uint8Array; leaseId?: number },
  ];
  "queue.len": [{ objectId: string; partition: string; total: boolean }, { n: number }];
  "queue.clear": [{ objectId: string; partition: string; all: boolean }, Record<string, never>];

  /** Files and directories of the newest version under `path` ("" is the root). */
  "volume.list": [{ objectId: string; path: string; recursive: boolean }, { entries: VolumeEntryWire[] }];
  /** A file of the newest version: its content hash (read it with volume.read) and size. */
  "volume.stat": [{ objectId: string; path: string }, { hash: string; size: number }];
  /** Bytes of stored content; at most MAX_VOLUME_CHUNK. */
  "volume.read": [{ objectId: string; hash: string; offset: number; length: number }, { data: Uint8Array }];
  /** Content is uploaded in chunks (bounded memory on both sides), then committed to a path. */
  "volume.upload.start": [{ objectId: string }, { uploadId: string }];
  "volume.upload.chunk": [{ uploadId: string; data: Uint8Array }, Record<string, never>];
  "volume.upload.end": [{ uploadId: string }, { hash: string; size: number }];
  /** Publishes a version with `path` holding uploaded content. */
  "volume.put": [{ objectId: string; path: string; hash: string; size: number }, { version: number }];
  "volume.remove": [{ objectId: string; path: string; recursive: boolean }, Record<string, never>];
  "volume.copy": [{ objectId: string; sources: string[]; dest: string }, Record<string, never>];
  /** From a container that mounts the volume: publish what changed in its copy. */
  "volume.commit": [{ objectId: string }, { version: number }];
  /** From a container that mounts the volume: bring its copy to the newest version. */
  "volume.reload": [{ objectId: string }, { version: number }];
}

export interface VolumeEntryWire {
  path: string;
  type: "file" | "directory";
  size: number;
}

/** Largest chunk of a volume file on the wire (upload or read). */
export const MAX_VOLUME_CHUNK = 4 * 1024 * 1024;

/** A volume mounted in a container (FunctionOptionsWire.volumes, by mount path). */
export interface VolumeMountWire {
  /** A named volume (resolved when a container starts) or an ephemeral one's id. */
  name?: string;
  objectId?: string;
  createIfMissing: boolean;
  readOnly: boolean;
}

export interface ObjectEventMap {
  /** client -> server: the items of a queue.get reply arrived. */
  "queue.ack": { leaseId: number };
}
