import type { AttemptInfo, CallDetails, GraphNode, ValuePreview } from "@skiff/protocol";
import { useEffect, useState } from "preact/hooks";
import { post } from "../api.js";
import { ago, ms, time } from "../format.js";
import { html } from "../html.js";
import { href } from "../router.js";
import { useFetch } from "./use-fetch.js";

function Value(props: { label: string; v: ValuePreview | null }) {
  if (!props.v) return null;
  return html`<div class="value"><h3>${props.label} <small>${props.v.bytes} bytes</small></h3>
    <pre>${props.v.text}</pre>
    ${props.v.truncated && html`<p class="note">Preview only: the value is larger than what is shown.</p>`}</div>`;
}

function Timing(props: { a: AttemptInfo; now: number }) {
  const a = props.a;
  const start = a.startedAt ?? props.now;
  const end = a.endedAt ?? props.now;
  const queued = Math.max(0, start - a.queuedAt - a.coldStartMs);
  const total = Math.max(1, end - a.queuedAt);
  const run = a.startedAt === null ? 0 : end - start;
  const w = (x: number) => ({ width: `${(x / total) * 100}%` });
  return html`<div class="timing" title=${`queued ${ms(queued)} · cold start ${ms(a.coldStartMs)} · running ${ms(run)}`}>
    <span class="queued" style=${w(queued)}></span><span class="cold" style=${w(a.coldStartMs)}></span><span class="run" style=${w(run)}></span>
  </div>
  <small>queued ${ms(queued)} · cold start ${ms(a.coldStartMs)} · running ${ms(run)}</small>`;
}

function Tree(props: { nodes: GraphNode[] }) {
  return html`<ul class="tree">${props.nodes.map(
    (n) => html`<li>
      <a href=${href(`calls/${n.functionCallId}`)}>${n.functionName}</a> <span class=${`badge ${n.status}`}>${n.status}</span>
      <small><code>${n.inputId}</code>${n.taskId ? html` on <a href=${href(`containers/${n.taskId}`)}>${n.taskId}</a>` : ""}</small>
      ${n.children.length > 0 && html`<${Tree} nodes=${n.children} />`}
    </li>`,
  )}</ul>`;
}

export function CallPage(props: { id: string }) {
  const { data, error, reload } = useFetch<CallDetails>(`/v1/calls/${props.id}/details`);
  const [msg, setMsg] = useState("");
  // While it runs, its status and attempts are fetched again every 2 s (this call only).
  useEffect(() => {
    if (data?.status !== "pending") return;
    const t = setInterval(reload, 2000);
    return () => clearInterval(t);
  }, [data?.status]);
  if (error) return html`<section><h2>Call <code>${props.id}</code></h2><p class="error">${error}</p></section>`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  const cancel = async () => {
    try {
      await post(`/v1/calls/${data.id}/cancel`);
      setMsg("Cancelled.");
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  const now = Date.now();
  return html`<section class="call">
    <h2>${data.appName}.${data.functionName} <span class=${`badge ${data.status}`}>${data.status}</span></h2>
    <p class="meta"><code>${data.id}</code> · ${data.kind} · created ${ago(data.createdAt)}${data.completedAt !== null ? ` · took ${ms(data.completedAt - data.createdAt)}` : ""}</p>
    ${data.status === "pending" && html`<button class="danger" onClick=${cancel}>Cancel call</button>`} ${msg && html`<span class="note">${msg}</span>`}
    <${Value} label="Arguments" v=${data.args} />
    <${Value} label="Result" v=${data.result} />
    ${data.error && html`<div class="value error-box"><h3>Error</h3><p class="error-title">${data.error.name}: ${data.error.message}</p><pre>${data.error.stack}</pre></div>`}
    ${data.message && html`<div class="value error-box"><h3>${data.status}</h3><p>${data.message}</p></div>`}
    <h3>Attempts</h3>
    ${data.attempts.length === 0 && html`<p class="empty">No attempt recorded yet.</p>`}
    <div class="scroll"><table class="attempts">
      <thead><tr><th>#</th><th>Container</th><th>Status</th><th>Queued at</th><th>Timing</th></tr></thead>
      <tbody>${data.attempts.map(
        (a) => html`<tr><td>${a.attempt}</td>
          <td>${a.containerId ? html`<a href=${href(`containers/${a.containerId}`)}><code>${a.containerId}</code></a>` : "–"}</td>
          <td><span class=${`badge ${a.status}`}>${a.status}</span></td><td>${time(a.queuedAt)}</td><td><${Timing} a=${a} now=${now} /></td></tr>`,
      )}</tbody>
    </table></div>
    <h3>Call graph</h3>
    ${data.graph.length === 0 ? html`<p class="empty">Nothing recorded.</p>` : html`<${Tree} nodes=${data.graph} />`}
    <p><a href=${href("logs", { app: data.appId, input: data.attempts[0]?.inputId })}>Logs of this call →</a></p>
  </section>`;
}
