import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type CallOutcome,
  decodePayload,
  encodePayload,
  INLINE_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  newId,
  type Payload,
} from "@skiff/protocol";
import { ApiError } from "../api/api-error.js";
import type { AppService } from "../apps/app-service.js";
import type { TokenService } from "../auth/tokens.js";
import type { Engine } from "../engine/engine.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { Store } from "../store/store.js";
import { requireToken } from "./auth.js";
import { HttpError, sendJson } from "./http-error.js";
import { toJsonValue } from "./json-value.js";
import { declaredLength, parseJson, readBody } from "./request-body.js";

export interface JsonApiDeps {
  engine: Engine;
  apps: AppService;
  store: Store;
  blobs: BlobStore;
  tokens: TokenService;
  /** Longest a request waits for an outcome before answering 202 "pending". */
  waitMs: number;
}

const FN_ROUTE = /^\/v1\/functions\/([^/]+)\/([^/]+)\/(call|spawn)$/;
const CALL_ROUTE = /^\/v1\/calls\/(fc-[0-9a-f]{1,64})(\/cancel)?$/;

/** The HTTP status of an API error code. */
export function statusOf(code: string): number {
  return (
    {
      invalid_argument: 400,
      unauthenticated: 401,
      permission_denied: 403,
      not_found: 404,
      already_exists: 409,
      failed_precondition: 409,
      timeout: 504,
      unavailable: 503,
    }[code] ?? 500
  );
}

/**
 * The JSON HTTP API for clients in any language (docs/web.md): call, spawn, get a result by
 * call id, cancel. API tokens only, as `Authorization: Bearer <id>:<secret>`.
 */
export class JsonApi {
  constructor(private readonly d: JsonApiDeps) {}

  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    await requireToken(req, this.d.tokens, ["api", "admin"], "the HTTP API");
    const url = new URL(path, "http://x");
    const env = url.searchParams.get("environment") ?? "main";
    const fnRoute = FN_ROUTE.exec(url.pathname);
    if (fnRoute) {
      if (req.method !== "POST") throw methodNotAllowed("POST");
      const [, app, name, verb] = fnRoute;
      return this.start(req, res, decodeURIComponent(app!), decodeURIComponent(name!), env, verb as "call" | "spawn");
    }
    const callRoute = CALL_ROUTE.exec(url.pathname);
    if (callRoute) {
      const callId = callRoute[1]!;
      if (callRoute[2]) {
        if (req.method !== "POST") throw methodNotAllowed("POST");
        await this.d.engine.cancelCall(callId, url.searchParams.get("terminate_containers") === "true");
        await this.d.store.flush();
        return sendJson(res, 200, { call_id: callId, cancelled: true });
      }
      if (req.method !== "GET") throw methodNotAllowed("GET");
      const t = url.searchParams.get("timeout_ms");
      const timeoutMs = t === null ? this.d.waitMs : Number(t);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > this.d.waitMs)
        throw new HttpError(400, "invalid_argument", `timeout_ms must be an integer from 0 to ${this.d.waitMs}`);
      return this.answer(res, callId, timeoutMs);
    }
    throw new HttpError(
      404,
      "not_found",
      `no API route ${req.method} ${url.pathname}: use POST /v1/functions/<app>/<function or Class.method>/call|spawn, GET /v1/calls/<id>, POST /v1/calls/<id>/cancel`,
    );
  }

  private async start(
    req: IncomingMessage,
    res: ServerResponse,
    appName: string,
    name: string,
    env: string,
    verb: "call" | "spawn",
  ): Promise<void> {
    declaredLength(req, MAX_PAYLOAD_BYTES);
    const body = parseJson(await readBody(req, MAX_PAYLOAD_BYTES)) ?? {};
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new HttpError(400, "invalid_argument", 'the body must be a JSON object: { "args": [...] }');
    const args = (body as { args?: unknown }).args ?? [];
    if (!Array.isArray(args)) throw new HttpError(400, "invalid_argument", '"args" must be a JSON array of arguments');
    const target = await this.target(appName, name, env, (body as { params?: unknown }).params);
    const bytes = encodePayload(args, "args");
    let payload: Payload = bytes;
    if (bytes.byteLength > INLINE_PAYLOAD_BYTES) {
      payload = { blob: await this.d.blobs.put(bytes) };
    }
    const key = req.headers["idempotency-key"];
    const { callId } = await this.d.engine.createCall({
      functionId: target.functionId,
      method: target.method,
      // Both are kept like a spawn's: a caller that stops waiting collects it by id.
      kind: "spawn",
      args: payload,
      idempotencyKey: typeof key === "string" && key.length > 0 && key.length <= 128 ? `http-${key}` : newId("ik"),
      parentInputId: undefined,
    });
    await this.d.store.flush();
    if (verb === "spawn") return sendJson(res, 202, { call_id: callId, status: "pending" });
    return this.answer(res, callId, this.d.waitMs);
  }

  /**
   * What `<name>` calls: a function, or `<Class>.<method>` on the instance with `params` (the
   * class's defaults for those not given; one pool per parameter set, as from the SDK).
   */
  private async target(
    appName: string,
    name: string,
    env: string,
    params: unknown,
  ): Promise<{ functionId: string; method: string | undefined }> {
    const dot = name.indexOf(".");
    const info = await this.d.apps.lookup(appName, dot > 0 ? name.slice(0, dot) : name, env);
    const label = `${appName}.${name}`;
    if (this.d.engine.functions.get(info.functionId)?.spec.web)
      throw new HttpError(400, "invalid_argument", `${label} is a web endpoint: request its URL`);
    if (dot < 0) {
      if (info.cls)
        throw new HttpError(
          400,
          "invalid_argument",
          `${label} is a class: call a method, POST /v1/functions/${appName}/${name}.<method>/call (methods: ${info.cls.methods.map((m) => m.name).join(", ")})`,
        );
      if (params !== undefined)
        throw new HttpError(400, "invalid_argument", `"params" are for class methods; ${label} is a function`);
      if (info.isGenerator)
        throw new HttpError(400, "invalid_argument", `${label} is a generator function: the HTTP API cannot stream it`);
      return { functionId: info.functionId, method: undefined };
    }
    const method = name.slice(dot + 1);
    if (!info.cls)
      throw new HttpError(
        400,
        "invalid_argument",
        `${appName}.${info.name} is a function, not a class: call it as ${info.name}`,
      );
    const m = info.cls.methods.find((x) => x.name === method);
    if (!m)
      throw new HttpError(
        404,
        "not_found",
        `class ${appName}.${info.name} has no @method() "${method}" (it has: ${info.cls.methods.map((x) => x.name).join(", ")})`,
      );
    if (m.isGenerator)
      throw new HttpError(400, "invalid_argument", `${label} is a generator method: the HTTP API cannot stream it`);
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params)))
      throw new HttpError(
        400,
        "invalid_argument",
        '"params" must be a JSON object of the class\'s @parameter() values',
      );
    const instance = await this.d.apps.bindInstance(info.functionId, (params ?? {}) as Record<string, unknown>, {});
    return { functionId: instance.functionId, method };
  }

  private async answer(res: ServerResponse, callId: string, timeoutMs: number): Promise<void> {
    let gone = false;
    let cancelWait: (() => void) | undefined;
    res.once("close", () => {
      gone = true;
      cancelWait?.();
    });
    const outcome = await this.d.engine.awaitCall(callId, timeoutMs, (c) => {
      cancelWait = c;
    });
    if (gone) return;
    if (!outcome) return sendJson(res, 202, { call_id: callId, status: "pending" });
    sendJson(res, 200, { call_id: callId, ...(await this.outcomeJson(outcome)) });
  }

  private async outcomeJson(o: CallOutcome): Promise<Record<string, unknown>> {
    if (o.kind === "cancelled") return { status: "cancelled" };
    if (o.kind === "expired")
      return { status: "expired", error: { name: "OutputExpiredError", message: "the result is past its retention" } };
    const r = o.result;
    if (r.status === "success") return { status: "success", result: toJsonValue(await this.decode(r.data)) };
    if (r.status === "timeout" || r.status === "terminated") return { status: r.status, error: { message: r.message } };
    const e = (await this.decode(r.error)) as { name?: unknown; message?: unknown } | undefined;
    return {
      status: r.status,
      error: { name: String(e?.name ?? "Error"), message: String(e?.message ?? "") },
    };
  }

  private async decode(p: Payload): Promise<unknown> {
    try {
      if (p instanceof Uint8Array) return decodePayload(p);
      const data = await this.d.blobs.get(p.blob);
      if (!data) throw new ApiError("not_found", `the result's blob ${p.blob} is gone`);
      return decodePayload(data);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      return undefined;
    }
  }
}

function methodNotAllowed(allowed: string): HttpError {
  return new HttpError(405, "method_not_allowed", `this route takes ${allowed}`, { allow: allowed });
}
