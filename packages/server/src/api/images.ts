import type { FunctionSpec, ImageWire, RequestParams, RequestResult } from "@skiff/protocol";
import type { Engine } from "../engine/engine.js";
import { ImageBuildError, type ImageBuilder } from "../provider.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import { invalid } from "./api-error.js";
import type { Peer } from "./peer.js";

/** The builder, or a clear error saying why this server cannot build images. */
export function builderOf(images: ImageBuilder | undefined): ImageBuilder {
  if (!images) throw invalid("this server cannot build images: its worker provider has no image builder");
  const why = images.unavailable();
  if (why) throw invalid(why);
  return images;
}

/** Last-layer keys of the images live functions run in, with the apps using each. */
export function imagesInUse(engine: Engine): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const fn of engine.liveFunctions()) {
    const key = fn.live ? fn.spec.options.imageKey : undefined;
    if (!key) continue;
    const apps = out.get(key) ?? [];
    if (!apps.includes(fn.appName)) apps.push(fn.appName);
    out.set(key, apps);
  }
  return out;
}

async function buildOne(
  images: ImageBuilder,
  blobs: BlobStore,
  image: ImageWire,
  onEvent?: Parameters<ImageBuilder["build"]>[2],
): Promise<RequestResult<"image.build">> {
  try {
    return await images.build(image, (id) => blobs.get(id), onEvent);
  } catch (err) {
    // A failing step is the user's input (a package name, a command): an invalid request.
    if (err instanceof ImageBuildError) throw invalid(err.message);
    throw err;
  }
}

/** image.build: builds what is missing, streaming each step to the asking client. */
export function buildImage(
  peer: Peer,
  p: RequestParams<"image.build">,
  images: ImageBuilder | undefined,
  blobs: BlobStore,
): Promise<RequestResult<"image.build">> {
  if (typeof p.buildId !== "string" || p.buildId.length > 80) throw invalid("buildId must be a short string");
  const builder = builderOf(images);
  return buildOne(builder, blobs, p.image, (e) => peer.send("image.progress", { ...e, buildId: p.buildId }));
}

/**
 * Before publishing: every function's image is built (already, when the CLI asked first: then
 * this is a cache lookup) and its last layer's key recorded in the spec. A failing build fails
 * the publish, so the previous version keeps serving.
 */
export async function prepareImages(
  functions: FunctionSpec[],
  images: ImageBuilder | undefined,
  blobs: BlobStore,
): Promise<void> {
  if (!Array.isArray(functions)) return;
  for (const f of functions) {
    const o = f?.options;
    if (!o || typeof o !== "object") continue;
    delete o.imageKey; // only the control plane sets it
    if (o.image === undefined) continue;
    const { key } = await buildOne(builderOf(images), blobs, o.image);
    o.imageKey = key;
  }
}
