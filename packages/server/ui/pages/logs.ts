import type { AppSummary, LogLine } from "@skiff/protocol";
import { useEffect, useRef, useState } from "preact/hooks";
import { time } from "../format.js";
import { html } from "../html.js";
import { useLive, useLogStream } from "../live.js";
import { href } from "../router.js";
import { useFetch } from "./use-fetch.js";

/** Lines kept on the page; older ones scroll away. */
const KEEP = 1000;

/** Log lines (history, then live when `live`), following the end unless the reader scrolled up. */
export function LogView(props: { filter: Record<string, string>; live: boolean }) {
  const qs = new URLSearchParams({ ...props.filter, limit: "200" }).toString();
  const history = useFetch<{ lines: LogLine[] }>(`/v1/logs?${qs}`);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => setLines(history.data?.lines ?? []), [history.data]);
  const streamFilter: Record<string, string> = {};
  for (const k of ["app", "function", "input", "container"]) if (props.filter[k]) streamFilter[k] = props.filter[k]!;
  useLogStream(streamFilter, props.live, (l) => setLines((prev) => [...prev.slice(-(KEEP - 1)), l]));
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);
  return html`<div>
    <label class="follow"><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.target as HTMLInputElement).checked)} /> follow</label>
    ${history.error && html`<p class="error">${history.error}</p>`}
    <div class="log" ref=${box} onScroll=${(e: Event) => {
      const el = e.target as HTMLDivElement;
      setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - 4);
    }}>
      ${lines.length === 0 && html`<p class="empty">No log lines yet.</p>`}
      ${lines.map(
        (l) =>
          html`<div class=${`line ${l.stream}`}><span class="ts">${time(l.ts)}</span> <span class="src">${l.functionName ?? ""}</span> <span class="text">${l.text}</span>${l.truncated && html`<span class="cut"> … (cut: line too long to show)</span>`}</div>`,
      )}
    </div>
  </div>`;
}

export function LogsPage(props: { query: URLSearchParams }) {
  const live = useLive();
  const apps = useFetch<{ apps: AppSummary[] }>("/v1/apps");
  const f = {
    app: props.query.get("app") ?? "",
    function: props.query.get("function") ?? "",
    input: props.query.get("input") ?? "",
  };
  const filter: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (v) filter[k] = v;
  const set = (k: string, v: string) => {
    location.hash = href("logs", { ...f, [k]: v });
  };
  const names = [...new Set(live.functions.filter((x) => !f.app || x.appId === f.app).map((x) => x.name))];
  return html`<section>
    <h2>Logs</h2>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>App <select name="app" value=${f.app} onChange=${(e: Event) => set("app", (e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${(apps.data?.apps ?? []).map((a) => html`<option value=${a.id}>${a.name}</option>`)}
      </select></label>
      <label>Function <select name="function" value=${f.function} onChange=${(e: Event) => set("function", (e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${names.map((n) => html`<option value=${n}>${n}</option>`)}
      </select></label>
      <label>Input <input name="input" value=${f.input} placeholder="in-…" onChange=${(e: Event) => set("input", (e.target as HTMLInputElement).value.trim())} /></label>
    </form>
    <${LogView} key=${JSON.stringify(filter)} filter=${filter} live=${true} />
  </section>`;
}
