import { MAX_VOLUME_CHUNK, type VolumeEntryWire } from "@skiff/protocol";
import { checkParams } from "../check-params.js";
import { InvalidError } from "../errors.js";
import {
  checkName,
  type ObjectDeleteParams,
  type ObjectEphemeralParams,
  type ObjectFromNameParams,
  ObjectHandle,
  refOf,
} from "./handle.js";

/** A file or directory of a volume (paths relative to its root, "/"-separated). */
export type VolumeEntry = VolumeEntryWire;

export interface VolumeListFilesParams {
  /** Every file below, not only the entries directly in the directory. @defaultValue false */
  recursive?: boolean;
}

export interface VolumeRemoveFileParams {
  /** Remove a directory and what it holds. @defaultValue false */
  recursive?: boolean;
}

/** Bytes per request when reading or writing from outside a container. */
const CHUNK = 1024 * 1024;

type WriteData = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * A named file tree (api.md §7), mounted read-write into a function's containers with
 * `volumes: { "/data": vol }` (`vol.readOnly()` read-only). Each container works on its own
 * copy of the newest committed version: its writes become visible to other containers after
 * `await vol.commit()` there and `await vol.reload()` in the reader, and a container commits
 * on a clean exit. From outside a container, `writeFile`, `removeFile` and `copyFiles` commit
 * at once, and `readFile` streams the newest version.
 */
export class Volume extends ObjectHandle {
  private mountReadOnly = false;

  static fromName(name: string, params: ObjectFromNameParams = {}): Volume {
    return new Volume(refOf("volume", checkName("volume", name), params));
  }

  /** A new Volume deleted at the end of an `await using` scope, or when its app or client session ends. */
  static ephemeral(params: ObjectEphemeralParams = {}): Volume {
    return new Volume(refOf("volume", undefined, params));
  }

  /** Deletes a named Volume and its files. @throws NotFoundError if there is none. */
  static delete(name: string, params: ObjectDeleteParams = {}): Promise<void> {
    return ObjectHandle.deleteNamed("volume", name, params);
  }

  /** The same volume, mounted read-only where it is named in `volumes`. */
  readOnly(): Volume {
    const v = new Volume(this.ref);
    v.mountReadOnly = true;
    return v;
  }

  /** Internal: how a function's `volumes` option names it. */
  _mount(): { name: string; createIfMissing: boolean; readOnly: boolean } | undefined {
    if (this.ref.name === undefined) return undefined;
    return { name: this.ref.name, createIfMissing: this.ref.createIfMissing, readOnly: this.mountReadOnly };
  }

  /** Entries of a directory of the newest version ("/" is the root). */
  async listFiles(path = "/", params: VolumeListFilesParams = {}): Promise<VolumeEntry[]> {
    checkParams("listFiles", params, ["recursive"]);
    return (await this.call("volume.list", { path, recursive: params.recursive ?? false }, true)).entries;
  }

  /** A file of the newest version, as a stream read a chunk at a time. */
  readFile(path: string): ReadableStream<Uint8Array> {
    let file: { hash: string; size: number } | undefined;
    let offset = 0;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          file ??= await this.call("volume.stat", { path }, true);
          if (offset >= file.size) return controller.close();
          const length = Math.min(CHUNK, file.size - offset);
          const { data } = await this.call("volume.read", { hash: file.hash, offset, length }, true);
          if (data.byteLength === 0) return controller.error(new InvalidError(`${path} ended early`));
          offset += data.byteLength;
          controller.enqueue(data);
        },
      },
      { highWaterMark: 1 },
    );
  }

  /** Writes a file (bytes, text, or a stream of bytes) and commits it: a new version. */
  async writeFile(path: string, data: WriteData): Promise<void> {
    if (typeof path !== "string" || path === "") throw new InvalidError("writeFile: path must be a non-empty string");
    const streamed =
      typeof data === "object" &&
      data !== null &&
      (Symbol.asyncIterator in data || typeof (data as unknown as ReadableStream).getReader === "function");
    if (typeof data !== "string" && !(data instanceof Uint8Array) && !streamed)
      throw new InvalidError("writeFile: data must be a Uint8Array, a string or a stream of Uint8Array");
    const { uploadId } = await this.call("volume.upload.start", {});
    const { client } = await this.resolve();
    const send = (chunk: Uint8Array) => client.request("volume.upload.chunk", { uploadId, data: chunk });
    // Two chunks in flight: the next is read while the last is written. Memory: two chunks.
    let inflight: Promise<unknown> | undefined;
    const push = async (bytes: Uint8Array) => {
      for (let i = 0; i < bytes.byteLength; i += MAX_VOLUME_CHUNK) {
        const part = bytes.subarray(i, Math.min(bytes.byteLength, i + MAX_VOLUME_CHUNK));
        if (inflight) await inflight;
        inflight = send(part);
      }
    };
    if (typeof data === "string") await push(new TextEncoder().encode(data));
    else if (data instanceof Uint8Array) await push(data);
    else {
      const it =
        Symbol.asyncIterator in data
          ? (data as AsyncIterable<Uint8Array>)
          : readerIterable((data as ReadableStream<Uint8Array>).getReader());
      for await (const chunk of it) {
        if (!(chunk instanceof Uint8Array)) throw new InvalidError("writeFile: a stream must yield Uint8Array chunks");
        await push(chunk);
      }
    }
    if (inflight) await inflight;
    const { hash, size } = await client.request("volume.upload.end", { uploadId });
    await this.call("volume.put", { path, hash, size });
  }

  /** Removes a file (or, with `recursive`, a directory) and commits. */
  async removeFile(path: string, params: VolumeRemoveFileParams = {}): Promise<void> {
    checkParams("removeFile", params, ["recursive"]);
    await this.call("volume.remove", { path, recursive: params.recursive ?? false });
  }

  /**
   * Copies files or directories inside the volume: into `dest` when it is a directory, ends in
   * "/", or there are several sources; else to `dest` itself (a copy under a new name).
   */
  async copyFiles(sources: string[], dest: string): Promise<void> {
    if (!Array.isArray(sources)) throw new InvalidError("copyFiles: sources must be an array of paths");
    await this.call("volume.copy", { sources, dest });
  }

  /** Inside a container that mounts it: publishes what changed in this container's copy. */
  async commit(): Promise<void> {
    await this.call("volume.commit", {});
  }

  /** Inside a container that mounts it: brings this container's copy to the newest version. */
  async reload(): Promise<void> {
    await this.call("volume.reload", {}, true);
  }
}

async function* readerIterable(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}
