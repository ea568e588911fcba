import { type AppSummary, CALL_STATUSES, type CallPage } from "@skiff/protocol";
import { useState } from "preact/hooks";
import { ago } from "../format.js";
import { html } from "../html.js";
import { useLive } from "../live.js";
import { href } from "../router.js";
import { useFetch } from "./use-fetch.js";

const SINCE: [string, string][] = [
  ["", "any time"],
  ["3600000", "last hour"],
  ["86400000", "last day"],
  ["604800000", "last 7 days"],
];

/** Calls, filtered by app, function, status and time, a page at a time (cursor paging). */
export function CallsPage(props: { query: URLSearchParams }) {
  const q = props.query;
  const live = useLive();
  const apps = useFetch<{ apps: AppSummary[] }>("/v1/apps");
  // Cursors of the pages seen so far: "Newer" goes back one without a second kind of cursor.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const filters = {
    app: q.get("app") ?? "",
    function: q.get("function") ?? "",
    status: q.get("status") ?? "",
    since: q.get("since") ?? "",
  };
  const params = new URLSearchParams({ limit: "50" });
  if (filters.app) params.set("app", filters.app);
  if (filters.function) params.set("function", filters.function);
  if (filters.status) params.set("status", filters.status);
  if (cursor) params.set("cursor", cursor);
  // The since bound is rounded to the minute so that the page's URL stays the same while reading it.
  if (filters.since) params.set("since", String(Math.floor((Date.now() - Number(filters.since)) / 60_000) * 60_000));
  const page = useFetch<CallPage>(`/v1/calls?${params}`);
  const set = (k: string, v: string) => {
    setCursors([]);
    location.hash = href("calls", { ...filters, [k]: v });
  };
  const fns = live.functions.filter((f) => !filters.app || f.appId === filters.app);
  return html`<section>
    <h2>Calls</h2>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>App <select name="app" value=${filters.app} onChange=${(e: Event) => set("app", (e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${(apps.data?.apps ?? []).map((a) => html`<option value=${a.id}>${a.name}</option>`)}
      </select></label>
      <label>Function <select name="function" value=${filters.function} onChange=${(e: Event) => set("function", (e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${fns.map((f) => html`<option value=${f.id}>${f.appName}.${f.name}</option>`)}
      </select></label>
      <label>Status <select name="status" value=${filters.status} onChange=${(e: Event) => set("status", (e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${CALL_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select></label>
      <label>Created <select name="since" value=${filters.since} onChange=${(e: Event) => set("since", (e.target as HTMLSelectElement).value)}>
        ${SINCE.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
      </select></label>
      <button type="button" onClick=${() => {
        setCursors([]);
        page.reload();
      }}>Refresh</button>
    </form>
    ${page.error && html`<p class="error">${page.error}</p>`}
    <div class="scroll"><table class="calls">
      <thead><tr><th>Call</th><th>Function</th><th>Status</th><th>Kind</th><th>Created</th><th>Took</th></tr></thead>
      <tbody>${(page.data?.calls ?? []).map(
        (c) => html`<tr>
          <td><a href=${href(`calls/${c.id}`)}><code>${c.id}</code></a></td>
          <td>${c.appName}.${c.functionName}</td>
          <td><span class=${`badge ${c.status}`}>${c.status}</span></td>
          <td>${c.kind}</td><td>${ago(c.createdAt)}</td>
          <td>${c.completedAt !== null ? `${((c.completedAt - c.createdAt) / 1000).toFixed(2)} s` : "–"}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${page.data && page.data.calls.length === 0 && html`<p class="empty">No calls match. Spawned calls and calls made over HTTP are listed; running maps are on the Functions page.</p>`}
    <div class="pager">
      <button disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>← Newer</button>
      <button disabled=${!page.data?.nextCursor} onClick=${() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}>Older →</button>
    </div>
  </section>`;
}
