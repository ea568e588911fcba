import type { AppMode, WebSpec } from "@skiff/protocol";
import type { FunctionView } from "../engine/model.js";

/** A live web endpoint, as the gateway routes to it. */
export interface Endpoint {
  fn: FunctionView;
  web: WebSpec;
  mode: AppMode;
}

export interface EndpointSource {
  /** Every registered function (the engine's map). */
  functions(): Iterable<FunctionView>;
  /** An app's mode and creation time. */
  app(appId: string): { mode: AppMode; createdAt: number } | undefined;
}

/**
 * Finds the function behind `<app>--<label>` (deployed) or `<app>--<label>-dev` (ephemeral).
 * Built from the engine's functions and rebuilt after an app is published (the gateway is told)
 * or when an entry's function is no longer live (stopped, replaced); otherwise a lookup is
 * one Map get.
 */
export class EndpointIndex {
  private byKey = new Map<string, Endpoint>();
  private stale = true;

  constructor(private readonly source: EndpointSource) {}

  invalidate(): void {
    this.stale = true;
  }

  find(app: string, label: string, dev: boolean): Endpoint | undefined {
    const key = `${app.toLowerCase()}--${label}${dev ? "-dev" : ""}`;
    let e = this.stale ? undefined : this.byKey.get(key);
    // A miss on a fresh index is an answer (a flood of unknown hosts costs no rebuilds); an
    // entry whose function stopped means the apps changed.
    if (this.stale || (e && !e.fn.live)) {
      this.rebuild();
      e = this.byKey.get(key);
    }
    return e;
  }

  private rebuild(): void {
    this.stale = false;
    const next = new Map<string, { e: Endpoint; rank: number }>();
    for (const fn of this.source.functions()) {
      const web = fn.spec.web;
      if (!fn.live || !web) continue;
      const app = this.source.app(fn.appId);
      if (!app) continue;
      const key = `${fn.appName.toLowerCase()}--${web.label}${app.mode === "ephemeral" ? "-dev" : ""}`;
      // Two apps with one URL: environment "main" first, then the newest app.
      const rank = (fn.environment === "main" ? 1e15 : 0) + app.createdAt;
      const had = next.get(key);
      if (!had || had.rank < rank) next.set(key, { e: { fn, web, mode: app.mode }, rank });
    }
    this.byKey = new Map([...next].map(([k, v]) => [k, v.e]));
  }
}
