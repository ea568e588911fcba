import {
  type AppInfo,
  AUTOSCALER_KEYS,
  type AutoscalerWire,
  type DeploymentInfo,
  encodeCbor,
  type FunctionInfo,
  type FunctionSpec,
  type FunctionSummary,
  newId,
  type RequestParams,
} from "@skiff/protocol";
import { ApiError, invalid, notFound } from "../api/api-error.js";
import type { Engine } from "../engine/engine.js";
import type { FunctionView } from "../engine/model.js";
import { STOPPED_APPS_LISTED_MS } from "../engine/retention.js";
import type { Schedules } from "../engine/schedules.js";
import type { WorkerProvider } from "../provider.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { AppRow, ClassInstanceRow, FunctionRow, Store } from "../store/store.js";
import { applyOverrides, checkParams, instanceId, isDefault } from "./class-instances.js";
import { checkWebLabels, validateFunctionSpec } from "./validate-spec.js";

/** An ephemeral app outlives a dropped connection by this long, so its client can come back. */
const SESSION_GRACE_MS = 30_000;
/**
 * Deployments an app keeps (`skiff app history`), with their bundles; older ones are dropped
 * at the next deploy, and their bundles swept.
 */
export const KEEP_DEPLOYMENTS = 10;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

interface Session {
  connections: number;
  timer: NodeJS.Timeout | undefined;
}

/** Apps, deployments and name lookup, on top of the store and the engine. */
export class AppService {
  private readonly sessions = new Map<string, Session>();
  private readonly stoppedListeners: ((appId: string) => void)[] = [];
  private readonly sessionGoneListeners: ((sessionId: string) => void)[] = [];
  /** Rows of the apps whose functions are registered (the gateway routes by them, in memory). */
  private readonly liveRows = new Map<string, AppRow>();
  /** Publishes and stops of one app name run one at a time (each reads, then writes). */
  private readonly serial = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly engine: Engine,
    private readonly provider: WorkerProvider,
    private readonly schedules: Schedules,
  ) {
    engine.setFunctionResolver((id) => this.reviveInstance(id));
  }

  /** Called when an app stops (its ephemeral objects go with it). */
  onAppStopped(listener: (appId: string) => void): void {
    this.stoppedListeners.push(listener);
  }

  /** Called when a client session is gone for good (after its grace). */
  onSessionGone(listener: (sessionId: string) => void): void {
    this.sessionGoneListeners.push(listener);
  }

  /** Registers the functions of every live app (server start). */
  async restore(): Promise<void> {
    for (const app of await this.store.liveApps()) {
      for (const f of await this.store.appFunctions(app.id)) await this.register(app, f);
      if (app.mode === "ephemeral" && app.ownerSession) this.sessionDropped(app.ownerSession);
    }
  }

  /** A live app's row, from memory (undefined once stopped). */
  liveApp(appId: string): AppRow | undefined {
    return this.liveRows.get(appId);
  }

  /** Runs `fn` after every earlier one of the same key has finished. */
  private one<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.serial.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.serial.set(key, tail);
    tail.then(() => {
      if (this.serial.get(key) === tail) this.serial.delete(key);
    });
    return next;
  }

  private async register(app: AppRow, f: FunctionRow): Promise<void> {
    this.liveRows.set(app.id, app);
    const spec = JSON.parse(f.spec) as FunctionSpec;
    this.engine.registerFunction({
      id: f.id,
      appId: app.id,
      appName: app.name,
      environment: app.environment,
      version: f.version,
      spec,
      bundleBlobId: f.bundleBlobId,
    });
    // Schedules are live only for deployed apps.
    if (app.mode === "deployed") this.schedules.sync({ functionId: f.id, appName: app.name, spec });
    // A redeploy moves the live class instances and function variants to the new version.
    await this.refreshVariants(f.id);
  }

  /** Re-derives the live instances / variants of a function from its current spec. */
  private async refreshVariants(functionId: string): Promise<void> {
    for (const fn of [...this.engine.liveFunctions()]) {
      if (fn.baseId !== functionId) continue;
      const row = await this.store.getClassInstance(fn.id);
      if (row) this.registerInstance(functionId, row);
    }
  }

  /** A class instance not in memory (let go while idle, or after a restart), by its id. */
  private async reviveInstance(id: string): Promise<FunctionView | undefined> {
    const dot = id.lastIndexOf(".");
    if (dot <= 0) return undefined;
    const row = await this.store.getClassInstance(id);
    const had = this.engine.functionView(id);
    if (had) return had; // taken back meanwhile
    if (!row || !this.engine.functionView(row.functionId)?.live) return undefined;
    return this.registerInstance(row.functionId, row);
  }

  /** Gives a class instance its pool, on the class's current version. */
  private registerInstance(classFunctionId: string, row: ClassInstanceRow): FunctionView | undefined {
    const base = this.engine.functionView(classFunctionId);
    if (!base) return undefined;
    let spec: FunctionSpec;
    try {
      spec = applyOverrides(base.appName, base.spec, JSON.parse(row.options) as Record<string, unknown>).spec;
    } catch {
      return undefined; // a redeploy made its overrides invalid
    }
    return this.engine.registerFunction({
      id: row.id,
      appId: base.appId,
      appName: base.appName,
      environment: base.environment,
      version: base.version,
      spec,
      bundleBlobId: base.bundleBlobId,
      baseId: base.id,
      // A function variant has no parameters to set in its containers.
      ...(base.spec.cls ? { params: row.params } : {}),
    });
  }

  /**
   * An instance of a class (api.md §3), or a variant of a function (§2, `withOptions`): checks
   * the parameters against the schema recorded at deploy, and returns the function id of the
   * pool for these parameters and options.
   */
  async bindInstance(
    functionId: string,
    params: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<FunctionInfo> {
    const base = this.engine.functionView(functionId);
    if (!base?.live)
      throw notFound(`function ${functionId} is not running (its app was stopped or redeployed without it)`);
    if (base.baseId !== undefined) throw invalid(`${functionId} is already a variant: bind the function it came from`);
    const cls = base.spec.cls;
    if (base.spec.web) throw invalid(`${base.appName}.${base.name} is a web endpoint: it has no variants`);
    if (!cls && Object.keys(params).length > 0)
      throw invalid(`${base.appName}.${base.name} is a function, not a class: it takes no parameters`);
    const full = cls ? checkParams(`${base.appName}.${base.name}.instance()`, cls.params, params) : {};
    const { spec, overrides } = applyOverrides(base.appName, base.spec, options);
    await this.checkPlacement(base.appName, spec, base.environment);
    const info = (id: string): FunctionInfo => ({
      functionId: id,
      appId: base.appId,
      appName: base.appName,
      name: base.name,
      isGenerator: spec.isGenerator,
      ...(cls ? { cls } : {}),
      ...(spec.options.batched ? { batched: spec.options.batched } : {}),
    });
    if (Object.keys(overrides).length === 0 && (!cls || isDefault(cls.params, full))) return info(base.id);
    const id = instanceId(base.id, full, overrides);
    if (
      !this.engine.functionView(id)?.live &&
      !(await this.reviveInstance(id)) &&
      this.engine.functionView(id) === undefined
    ) {
      const row: ClassInstanceRow = {
        id,
        functionId: base.id,
        params: encodeCbor(full),
        options: JSON.stringify(overrides),
        createdAt: Date.now(),
      };
      this.store.insertClassInstance(row);
      this.registerInstance(base.id, row);
    }
    return info(id);
  }

  publish(
    p: RequestParams<"app.publish">,
    sessionId: string | undefined,
  ): Promise<{ appId: string; version: number; functions: FunctionInfo[]; warnings?: string[] }> {
    return this.one(`${p.environment}\0${p.name}`, () => this.publishNow(p, sessionId));
  }

  private async publishNow(
    p: RequestParams<"app.publish">,
    sessionId: string | undefined,
  ): Promise<{ appId: string; version: number; functions: FunctionInfo[]; warnings?: string[] }> {
    const warnings: string[] = [];
    if (!NAME.test(p.name)) throw invalid(`app name ${JSON.stringify(p.name)} is invalid`);
    if (p.mode !== "ephemeral" && p.mode !== "deployed") throw invalid(`mode must be "ephemeral" or "deployed"`);
    if (!Array.isArray(p.functions)) throw invalid("functions must be an array");
    if ((await this.blobs.size(p.bundleBlobId)) === undefined)
      throw invalid(`bundle ${p.bundleBlobId} was not uploaded`);
    const names = new Set<string>();
    if (p.functions.length > 1000) throw invalid("an app has at most 1000 functions");
    for (const f of p.functions) {
      validateFunctionSpec(p.name, f);
      if (names.has(f.name)) throw invalid(`app "${p.name}" has two functions named "${f.name}"`);
      names.add(f.name);
      const w = await this.checkPlacement(p.name, f, p.environment);
      if (w) warnings.push(w);
    }
    checkWebLabels(p.name, p.functions);
    const now = Date.now();
    let app: AppRow;
    if (p.mode === "deployed") {
      const existing = await this.store.findDeployedApp(p.environment, p.name);
      if (existing) {
        app = { ...existing, state: "deployed", version: existing.version + 1 };
        this.store.updateApp(app.id, "deployed", app.version);
      } else {
        app = {
          id: newId("ap"),
          name: p.name,
          environment: p.environment,
          mode: "deployed",
          state: "deployed",
          version: 1,
          createdAt: now,
          ownerSession: null,
        };
        this.store.insertApp(app);
      }
    } else {
      app = {
        id: newId("ap"),
        name: p.name,
        environment: p.environment,
        mode: "ephemeral",
        state: "running",
        version: 1,
        createdAt: now,
        ownerSession: sessionId ?? null,
      };
      this.store.insertApp(app);
    }
    this.store.insertDeployment({
      appId: app.id,
      version: app.version,
      bundleBlobId: p.bundleBlobId,
      functions: [...names],
      createdAt: now,
    });
    this.store.trimDeployments(app.id, KEEP_DEPLOYMENTS);
    const infos: FunctionInfo[] = [];
    for (const spec of p.functions) {
      const existing = await this.store.getFunctionByName(app.id, spec.name);
      const row: FunctionRow = {
        id: existing?.id ?? newId("fu"),
        appId: app.id,
        name: spec.name,
        version: app.version,
        spec: JSON.stringify(spec),
        bundleBlobId: p.bundleBlobId,
        active: true,
      };
      this.store.upsertFunction(row);
      await this.register(app, row);
      infos.push({
        functionId: row.id,
        appId: app.id,
        appName: app.name,
        name: spec.name,
        isGenerator: spec.isGenerator,
        ...(spec.cls ? { cls: spec.cls } : {}),
        ...(spec.options.batched ? { batched: spec.options.batched } : {}),
      });
    }
    // Functions a redeploy dropped stop taking calls.
    for (const old of await this.store.appFunctions(app.id)) {
      if (old.version < app.version)
        this.engine.unregisterFunction(old.id, `function ${old.name} was removed by deploying version ${app.version}`);
      if (old.version < app.version) this.schedules.stop(old.id);
    }
    this.store.deactivateFunctions(app.id, app.version);
    return { appId: app.id, version: app.version, functions: infos, ...(warnings.length ? { warnings } : {}) };
  }

  /**
   * Secret checks at deploy time, so a call is never left pending forever; returns a warning
   * when no connected worker could run the function now (its calls wait for one to join, up to
   * the placement timeout).
   */
  private async checkPlacement(appName: string, f: FunctionSpec, environment: string): Promise<string | undefined> {
    const why = this.provider.unplaceable?.({
      gpu: f.options.gpu,
      ...(f.options.memoryMiB ? { memoryMiB: f.options.memoryMiB } : {}),
      ...(f.options.imageKey ? { imageKey: f.options.imageKey } : {}),
    });
    for (const name of f.options.secretNames ?? []) {
      if (!(await this.store.getSecret(environment, name))) {
        throw new ApiError(
          "not_found",
          `${appName}.${f.name} uses secret "${name}", which does not exist in environment "${environment}": create it with \`skiff secret create ${name} KEY=VALUE\``,
        );
      }
    }
    return why ? `${appName}.${f.name}: ${why}; its calls wait for one to join (--placement-timeout-ms)` : undefined;
  }

  async stop(p: RequestParams<"app.stop">): Promise<{ appId: string }> {
    let app: AppRow | undefined;
    if (p.appId) app = await this.store.getApp(p.appId);
    else if (p.name) app = await this.store.findLatestApp(p.environment, p.name);
    if (!app) throw notFound(`no app ${p.appId ?? JSON.stringify(p.name)} in environment "${p.environment}"`);
    const found = app;
    if (found.state !== "stopped")
      await this.one(`${found.environment}\0${found.name}`, () => this.stopApp(found, "its app was stopped"));
    return { appId: app.id };
  }

  private async stopApp(app: AppRow, reason: string): Promise<void> {
    this.liveRows.delete(app.id);
    const fns = await this.store.appFunctions(app.id);
    for (const f of fns) this.engine.unregisterFunction(f.id, `${app.name}.${f.name}: ${reason}`);
    for (const f of fns) this.schedules.stop(f.id);
    this.store.updateApp(app.id, "stopped", app.version, Date.now());
    for (const l of this.stoppedListeners) l(app.id);
  }

  async list(environment: string): Promise<AppInfo[]> {
    const out: AppInfo[] = [];
    for (const a of await this.store.listApps(environment, Date.now() - STOPPED_APPS_LISTED_MS)) {
      out.push({
        appId: a.id,
        name: a.name,
        environment: a.environment,
        mode: a.mode,
        state: a.state,
        version: a.version,
        createdAt: a.createdAt,
        functions: (await this.store.appFunctions(a.id)).map((f) => f.name),
      });
    }
    return out;
  }

  async history(name: string, environment: string): Promise<DeploymentInfo[]> {
    const app =
      (await this.store.findDeployedApp(environment, name)) ?? (await this.store.findLatestApp(environment, name));
    if (!app) throw notFound(`no app "${name}" in environment "${environment}"`);
    return this.store.listDeployments(app.id);
  }

  /** Resolves a deployed function by app and function name. */
  async lookup(appName: string, name: string, environment: string): Promise<FunctionInfo> {
    const app = await this.store.findDeployedApp(environment, appName);
    if (!app || app.state === "stopped") {
      throw notFound(
        `no deployed app "${appName}" in environment "${environment}" (looking up function "${name}"): deploy it with \`skiff deploy\``,
      );
    }
    const f = await this.store.getFunctionByName(app.id, name);
    if (!f?.active) {
      const have = (await this.store.appFunctions(app.id)).map((x) => x.name);
      throw notFound(`app "${appName}" has no function "${name}" (it has: ${have.join(", ") || "none"})`);
    }
    const spec = JSON.parse(f.spec) as FunctionSpec;
    return {
      functionId: f.id,
      appId: app.id,
      appName: app.name,
      name: f.name,
      isGenerator: spec.isGenerator,
      ...(spec.cls ? { cls: spec.cls } : {}),
      ...(spec.options.batched ? { batched: spec.options.batched } : {}),
    };
  }

  /**
   * A function by id (`Function_.fromId`): ids are stable across redeploys, so this finds the
   * function's current version; a variant's id finds the variant.
   */
  async get(functionId: string): Promise<FunctionInfo> {
    const fn = this.engine.functionView(functionId) ?? (await this.reviveInstance(functionId));
    if (!fn?.live)
      throw notFound(
        `no running function ${functionId}: its app was stopped, or a deploy dropped the function (look it up by name with Function_.lookup)`,
      );
    const spec = fn.spec;
    return {
      functionId: fn.id,
      appId: fn.appId,
      appName: fn.appName,
      name: fn.name,
      isGenerator: spec.isGenerator,
      ...(spec.cls ? { cls: spec.cls } : {}),
      ...(spec.options.batched ? { batched: spec.options.batched } : {}),
    };
  }

  /**
   * Changes a deployed function's scaling now (api.md §2 `updateAutoscaler`). The change is
   * written into the stored spec, so it survives a server restart, and the next deploy (which
   * writes the code's spec) puts back what the code says.
   */
  async updateAutoscaler(functionId: string, settings: AutoscalerWire): Promise<Required<AutoscalerWire>> {
    const fn = this.engine.functionView(functionId);
    if (!fn?.live) throw notFound(`no running function ${functionId}`);
    // In line with deploys of the same app: a deploy in progress finishes first.
    return this.one(`${fn.environment}\0${fn.appName}`, () => this.updateAutoscalerNow(functionId, settings));
  }

  private async updateAutoscalerNow(functionId: string, settings: AutoscalerWire): Promise<Required<AutoscalerWire>> {
    const fn = this.engine.functionView(functionId);
    if (!fn?.live) throw notFound(`no running function ${functionId} (a deploy dropped it)`);
    const where = `${fn.appName}.${fn.name}.updateAutoscaler()`;
    if (fn.baseId !== undefined)
      throw invalid(
        `${where}: this is a variant; its scaling comes from its options: update the function it came from`,
      );
    const app = await this.store.getApp(fn.appId);
    if (app?.mode !== "deployed")
      throw new ApiError(
        "failed_precondition",
        `${where}: app "${fn.appName}" is ephemeral (skiff run / serve): change its options in code, or deploy it with \`skiff deploy\` to scale it live`,
      );
    const options = { ...fn.spec.options };
    for (const k of AUTOSCALER_KEYS) {
      const v = settings[k];
      if (v === undefined) continue;
      const max = k === "scaledownWindowMs" ? 86_400_000 : 10_000;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
        throw invalid(`${where}: ${k} must be an integer from 0 to ${max}, got ${JSON.stringify(v)}`);
      options[k] = v;
    }
    for (const k of Object.keys(settings))
      if (!(AUTOSCALER_KEYS as readonly string[]).includes(k))
        throw invalid(`${where}: unknown setting "${k}" (it takes ${AUTOSCALER_KEYS.join(", ")})`);
    if (options.maxContainers < 1) throw invalid(`${where}: maxContainers must be at least 1`);
    if (options.minContainers > options.maxContainers)
      throw invalid(
        `${where}: minContainers (${options.minContainers}) is above maxContainers (${options.maxContainers})`,
      );
    if (options.bufferContainers > options.maxContainers)
      throw invalid(
        `${where}: bufferContainers (${options.bufferContainers}) is above maxContainers (${options.maxContainers})`,
      );
    const spec: FunctionSpec = { ...fn.spec, options, autoscalerUpdatedAt: Date.now() };
    const row = await this.store.getFunctionByName(fn.appId, fn.name);
    if (!row) throw notFound(`no function ${functionId}`);
    this.store.upsertFunction({ ...row, spec: JSON.stringify(spec) });
    await this.register(app, { ...row, spec: JSON.stringify(spec) });
    this.engine.fitToLimits(functionId);
    return {
      minContainers: options.minContainers,
      maxContainers: options.maxContainers,
      bufferContainers: options.bufferContainers,
      scaledownWindowMs: options.scaledownWindowMs,
    };
  }

  /** An app's functions with their live settings and pools (`skiff app show`). */
  async show(name: string, environment: string): Promise<{ app: AppInfo; functions: FunctionSummary[] }> {
    const row =
      (await this.store.findDeployedApp(environment, name)) ?? (await this.store.findLatestApp(environment, name));
    if (!row) throw notFound(`no app "${name}" in environment "${environment}"`);
    const app = (await this.list(environment)).find((a) => a.appId === row.id) ?? {
      appId: row.id,
      name: row.name,
      environment: row.environment,
      mode: row.mode,
      state: row.state,
      version: row.version,
      createdAt: row.createdAt,
      functions: [],
    };
    const functions: FunctionSummary[] = [];
    for (const f of await this.store.appFunctions(row.id)) {
      if (!f.active) continue;
      const live = this.engine.functionView(f.id);
      const spec = live?.spec ?? (JSON.parse(f.spec) as FunctionSpec);
      const o = spec.options;
      const stats = live ? await this.engine.stats(f.id) : undefined;
      functions.push({
        functionId: f.id,
        name: f.name,
        kind: spec.cls ? "class" : spec.web ? "web" : spec.isGenerator ? "generator" : "function",
        minContainers: o.minContainers,
        maxContainers: o.maxContainers,
        bufferContainers: o.bufferContainers,
        scaledownWindowMs: o.scaledownWindowMs,
        maxInputs: o.maxInputs,
        ...(o.batched ? { batched: o.batched } : {}),
        ...(spec.autoscalerUpdatedAt ? { autoscalerUpdatedAt: spec.autoscalerUpdatedAt } : {}),
        containers: stats?.numTotalRunners ?? 0,
        backlog: stats?.backlog ?? 0,
      });
    }
    return { app, functions };
  }

  /** Resolves an app by id or name for logs. */
  async resolveApp(appId: string | undefined, name: string | undefined, environment: string): Promise<AppRow> {
    const app = appId
      ? await this.store.getApp(appId)
      : name
        ? await this.store.findLatestApp(environment, name)
        : undefined;
    if (!app) throw notFound(`no app ${appId ?? JSON.stringify(name)} in environment "${environment}"`);
    return app;
  }

  sessionOpened(sessionId: string): void {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { connections: 0, timer: undefined };
      this.sessions.set(sessionId, s);
    }
    s.connections++;
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
  }

  sessionClosed(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    s.connections--;
    if (s.connections <= 0) this.sessionDropped(sessionId);
  }

  /** No connection of the session is left: stop its ephemeral apps unless it returns soon. */
  sessionDropped(sessionId: string): void {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { connections: 0, timer: undefined };
      this.sessions.set(sessionId, s);
    }
    if (s.timer) return;
    s.timer = setTimeout(() => {
      this.sessions.delete(sessionId);
      for (const app of [...this.liveRows.values()]) {
        if (app.mode === "ephemeral" && app.ownerSession === sessionId)
          this.one(`${app.environment}\0${app.name}`, () => this.stopApp(app, "its client disconnected")).catch(
            () => {}, // the store is down: the app stays listed as running until the next start
          );
      }
      for (const l of this.sessionGoneListeners) l(sessionId);
    }, SESSION_GRACE_MS);
    s.timer.unref();
  }

  close(): void {
    this.schedules.close();
    for (const s of this.sessions.values()) if (s.timer) clearTimeout(s.timer);
  }
}
