import type { Metric, Registry } from "prom-client";
import type { Engine } from "../engine/engine.js";
import { DURATION_BUCKETS_MS, type Histogram as MsHistogram } from "../engine/observe/function-stats.js";
import type { Store } from "../store/store.js";

export interface MetricsDeps {
  engine: Engine;
  store: Store;
  /** Open connections now: WebSocket peers (clients, containers) and HTTP sockets. */
  connections(): { websocket: number; http: number };
}

type Labels = { app: string; function: string };

/** Bounds (seconds) of the store's commit-time histogram. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/**
 * prom-client is loaded this long after the server starts (or at the first scrape, if sooner):
 * loading it and what it pulls in (OpenTelemetry's API, its default collectors) costs ~30 ms
 * of CPU, which at start competes with the warm pool's runtimes, and an embedded server of one
 * `skiff run` is rarely scraped at all. Node's GC and event-loop figures start from then.
 */
const LOAD_AFTER_MS = 2000;

interface FnNumbers {
  labels: Labels;
  accepted: number;
  succeeded: number;
  failed: number;
  retried: number;
  coldStarts: number;
  queue: number;
  running: number;
  containers: number;
  duration: MsHistogram[];
  wait: MsHistogram[];
}

/**
 * `/metrics` in the Prometheus text format (prom-client). Per-function numbers are read from
 * the engine's counters at scrape time: nothing is recorded twice on the hot path. A class's
 * instance pools add up under the class's name.
 */
export class Metrics {
  private registry: Registry | undefined;
  private loading: Promise<Registry> | undefined;
  private cached: { at: number; numbers: FnNumbers[] } | undefined;
  /** The store's commit times: counts per bucket of COMMIT_BUCKETS (and +Inf), sum, count. */
  private readonly commits = { counts: new Array<number>(COMMIT_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };

  constructor(private readonly d: MetricsDeps) {
    d.store.setCommitObserver((ms) => {
      const s = ms / 1000;
      let i = 0;
      while (i < COMMIT_BUCKETS.length && s > COMMIT_BUCKETS[i]!) i++;
      this.commits.counts[i]!++;
      this.commits.sum += s;
      this.commits.count++;
    });
    setTimeout(() => void this.load().catch(() => {}), LOAD_AFTER_MS).unref();
  }

  /** prom-client's registry with every metric, loaded once (see LOAD_AFTER_MS). */
  private load(): Promise<Registry> {
    this.loading ??= import("prom-client").then((m) => {
      // CommonJS: its exports are the default export where this module is bundled (the CLI's
      // bundle), and named exports too where Node loads it.
      const p = m.default ?? m;
      const registry = new p.Registry();
      this.registry = registry;
      this.build(p, registry);
      return registry;
    });
    return this.loading;
  }

  private build(p: typeof import("prom-client"), registry: Registry): void {
    const d = this.d;
    p.collectDefaultMetrics({ register: registry, prefix: "skiff_" });
    this.register({
      name: "skiff_store_commit_seconds",
      help: "Time each group commit of the store took.",
      type: "histogram",
      get: async () => {
        const { counts, sum, count } = this.commits;
        const values: { labels: Record<string, string>; value: number; metricName: string }[] = [];
        let cum = 0;
        COMMIT_BUCKETS.forEach((le, i) => {
          cum += counts[i]!;
          values.push({ labels: { le: String(le) }, value: cum, metricName: "skiff_store_commit_seconds_bucket" });
        });
        values.push({ labels: { le: "+Inf" }, value: count, metricName: "skiff_store_commit_seconds_bucket" });
        values.push({ labels: {}, value: sum, metricName: "skiff_store_commit_seconds_sum" });
        values.push({ labels: {}, value: count, metricName: "skiff_store_commit_seconds_count" });
        const help = "Time each group commit of the store took.";
        return { name: "skiff_store_commit_seconds", help, type: "histogram", aggregator: "sum", values };
      },
    });
    new p.Gauge({
      name: "skiff_connections",
      help: "Open connections: WebSocket peers (clients and containers) and HTTP sockets.",
      labelNames: ["kind"],
      registers: [registry],
      collect() {
        const c = d.connections();
        this.set({ kind: "websocket" }, c.websocket);
        this.set({ kind: "http" }, c.http);
      },
    });
    const counters: [string, string, keyof FnNumbers][] = [
      ["skiff_inputs_accepted_total", "Inputs accepted (each input of a map counts).", "accepted"],
      ["skiff_inputs_succeeded_total", "Inputs that ended in success.", "succeeded"],
      ["skiff_inputs_failed_total", "Inputs that ended in failure (error, timeout, termination).", "failed"],
      ["skiff_inputs_retried_total", "Failed attempts that were retried.", "retried"],
      ["skiff_cold_starts_total", "Containers started.", "coldStarts"],
    ];
    for (const [name, help, key] of counters) this.custom(name, help, "counter", key);
    this.custom("skiff_queue_depth", "Inputs waiting for a container (parked spawns included).", "gauge", "queue");
    this.custom("skiff_running_inputs", "Inputs running now.", "gauge", "running");
    this.custom("skiff_running_containers", "Containers starting or ready.", "gauge", "containers");
    this.histogram("skiff_input_duration_seconds", "Time inputs ran, per function.", "duration");
    this.histogram(
      "skiff_input_queue_wait_seconds",
      "Time inputs waited in the queue before a container took them.",
      "wait",
    );
  }

  /** The text to answer a scrape with. */
  async text(): Promise<string> {
    return (await this.load()).metrics();
  }

  /** The scrape's content type (after text()). */
  get contentType(): string {
    return this.registry?.contentType ?? "text/plain; version=0.0.4; charset=utf-8";
  }

  private numbers(): FnNumbers[] {
    // One scrape reads every metric: the engine is read once for all of them.
    const now = Date.now();
    if (this.cached && now - this.cached.at < 250) return this.cached.numbers;
    const numbers = this.readNumbers();
    this.cached = { at: now, numbers };
    return numbers;
  }

  private readNumbers(): FnNumbers[] {
    const by = new Map<string, FnNumbers>();
    const snap = new Map(this.d.engine.snapshot().functions.map((f) => [f.id, f]));
    for (const { fn, stats } of this.d.engine.functionStats()) {
      const key = `${fn.appName}\u0000${fn.name}`;
      let n = by.get(key);
      if (!n) {
        n = {
          labels: { app: fn.appName, function: fn.name },
          accepted: 0,
          succeeded: 0,
          failed: 0,
          retried: 0,
          coldStarts: 0,
          queue: 0,
          running: 0,
          containers: 0,
          duration: [],
          wait: [],
        };
        by.set(key, n);
      }
      n.accepted += stats.accepted;
      n.succeeded += stats.succeeded;
      n.failed += stats.failed;
      n.retried += stats.retried;
      n.coldStarts += stats.coldStarts;
      const s = snap.get(fn.id);
      n.queue += s?.backlog ?? 0;
      n.running += s?.running ?? 0;
      n.containers += s?.containers ?? 0;
      n.duration.push(stats.duration);
      n.wait.push(stats.queueWait);
    }
    return [...by.values()];
  }

  /** A metric whose values come from the engine at scrape time. */
  private custom(name: string, help: string, type: "counter" | "gauge", key: keyof FnNumbers): void {
    this.register({
      name,
      help,
      type,
      get: async () => ({
        name,
        help,
        type,
        aggregator: "sum",
        values: this.numbers().map((n) => ({ labels: n.labels, value: n[key] as number })),
      }),
    });
  }

  private histogram(name: string, help: string, key: "duration" | "wait"): void {
    this.register({
      name,
      help,
      type: "histogram",
      get: async () => {
        const values: { labels: Record<string, string>; value: number; metricName: string }[] = [];
        for (const n of this.numbers()) {
          const hs = n[key];
          let cum = 0;
          for (let i = 0; i <= DURATION_BUCKETS_MS.length; i++) {
            for (const h of hs) cum += h.counts[i]!;
            const le = i < DURATION_BUCKETS_MS.length ? String(DURATION_BUCKETS_MS[i]! / 1000) : "+Inf";
            values.push({ labels: { ...n.labels, le }, value: cum, metricName: `${name}_bucket` });
          }
          const sum = hs.reduce((a, h) => a + h.sum, 0) / 1000;
          const count = hs.reduce((a, h) => a + h.count, 0);
          values.push({ labels: n.labels, value: sum, metricName: `${name}_sum` });
          values.push({ labels: n.labels, value: count, metricName: `${name}_count` });
        }
        return { name, help, type: "histogram", aggregator: "sum", values };
      },
    });
  }

  /** prom-client takes any object with a name and a get(); its type names its own classes only. */
  private register(m: { name: string; help: string; type: string; get: () => Promise<unknown> }): void {
    this.registry!.registerMetric(m as unknown as Metric);
  }
}
