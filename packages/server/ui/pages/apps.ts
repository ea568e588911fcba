import type { AppDetails, AppSummary } from "@skiff/protocol";
import { useState } from "preact/hooks";
import { post } from "../api.js";
import { ago } from "../format.js";
import { html } from "../html.js";
import { useLive } from "../live.js";
import { href } from "../router.js";
import { useFetch } from "./use-fetch.js";

export function AppsPage() {
  const { data, error } = useFetch<{ apps: AppSummary[] }>("/v1/apps");
  return html`<section>
    <h2>Apps</h2>
    ${error && html`<p class="error">${error}</p>`}
    <div class="scroll"><table>
      <thead><tr><th>Name</th><th>Mode</th><th>State</th><th>Version</th><th>Functions</th><th>Created</th></tr></thead>
      <tbody>${(data?.apps ?? []).map(
        (a) => html`<tr>
          <td><a href=${href(`apps/${a.id}`)}>${a.name}</a></td><td>${a.mode}</td>
          <td><span class=${`badge ${a.state}`}>${a.state}</span></td><td>v${a.version}</td><td>${a.functions}</td><td>${ago(a.createdAt)}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${data && data.apps.length === 0 && html`<p class="empty">No apps yet: <code>skiff deploy app.ts</code> or <code>skiff run app.ts</code>.</p>`}
  </section>`;
}

export function AppPage(props: { id: string }) {
  const { data, error, reload } = useFetch<AppDetails>(`/v1/apps/${props.id}`);
  const live = useLive();
  const [msg, setMsg] = useState("");
  const stop = async () => {
    if (!confirm(`Stop ${data?.name}? Its pending calls end as terminated.`)) return;
    try {
      await post(`/v1/apps/${props.id}/stop`);
      setMsg("Stopped.");
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  if (error) return html`<p class="error">${error}</p>`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  const fns = live.functions.filter((f) => f.appId === data.id);
  return html`<section>
    <h2>${data.name} <span class=${`badge ${data.state}`}>${data.state}</span></h2>
    <p class="meta">${data.mode} · version ${data.version} · environment ${data.environment} · created ${ago(data.createdAt)}</p>
    ${data.state !== "stopped" && html`<button class="danger" onClick=${stop}>Stop app</button>`} ${msg && html`<span class="note">${msg}</span>`}
    <h3>Functions</h3>
    <ul class="plain">${fns.map(
      (f) => html`<li><a href=${href("calls", { app: data.id, function: f.id })}>${f.name}</a>
        <small>${f.running} running · ${f.backlog} queued · ${f.callsPerMinute}/min</small></li>`,
    )}</ul>
    <h3>Deployment history</h3>
    <div class="scroll"><table>
      <thead><tr><th>Version</th><th>Deployed</th><th>Functions</th></tr></thead>
      <tbody>${data.deployments.map(
        (d) => html`<tr><td>v${d.version}</td><td>${ago(d.createdAt)}</td><td>${d.functions.join(", ")}</td></tr>`,
      )}</tbody>
    </table></div>
  </section>`;
}
