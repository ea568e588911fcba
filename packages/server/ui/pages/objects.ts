import type { ObjectEntries, ObjectSummary } from "@skiff/protocol";
import { useState } from "preact/hooks";
import { ago, bytes } from "../format.js";
import { html } from "../html.js";
import { href } from "../router.js";
import { useFetch } from "./use-fetch.js";

/** Named Dicts, Queues and Volumes of the environment, with their sizes. */
export function ObjectsPage() {
  const { data, error } = useFetch<{ objects: ObjectSummary[] }>("/v1/objects");
  return html`<section>
    <h2>Objects</h2>
    ${error && html`<p class="error">${error}</p>`}
    <div class="scroll"><table class="objects">
      <thead><tr><th>Name</th><th>Kind</th><th>Size</th><th>Created</th></tr></thead>
      <tbody>${(data?.objects ?? []).map(
        (o) => html`<tr>
          <td>${o.kind === "queue" ? o.name : html`<a href=${href(`objects/${o.kind}/${o.id}`, { name: o.name })}>${o.name}</a>`}</td>
          <td>${o.kind}</td>
          <td>${o.size === null ? "–" : `${o.size} ${o.kind === "dict" ? "keys" : "items"}`}</td>
          <td>${ago(o.createdAt)}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${data && data.objects.length === 0 && html`<p class="empty">No named objects: <code>skiff dict create NAME</code>, or <code>Dict.fromName(…, { createIfMissing: true })</code>.</p>`}
  </section>`;
}

/** A Dict's keys (a page at a time) or a Volume's directory (click a directory to go in). */
export function ObjectPage(props: { kind: string; id: string; query: URLSearchParams }) {
  const name = props.query.get("name") ?? props.id;
  const path = props.query.get("path") ?? "";
  const [afters, setAfters] = useState<string[]>([]);
  const after = afters[afters.length - 1];
  const url =
    props.kind === "dict"
      ? `/v1/objects/dict/${props.id}/keys${after ? `?after=${encodeURIComponent(after)}` : ""}`
      : `/v1/objects/volume/${props.id}/files${path ? `?path=${encodeURIComponent(path)}` : ""}`;
  const { data, error } = useFetch<ObjectEntries>(url);
  const up = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  return html`<section>
    <h2>${props.kind === "dict" ? "Dict" : "Volume"} ${name}</h2>
    ${props.kind === "volume" && html`<p class="meta">/${path} ${path && html`· <a href=${href(`objects/volume/${props.id}`, { name, path: up })}>up</a>`}</p>`}
    ${error && html`<p class="error">${error}</p>`}
    <div class="scroll"><table class="entries">
      <thead><tr><th>${props.kind === "dict" ? "Key" : "Path"}</th><th>${props.kind === "dict" ? "" : "Size"}</th></tr></thead>
      <tbody>${(data?.entries ?? []).map(
        (e) => html`<tr>
          <td>${e.type === "directory" ? html`<a href=${href(`objects/volume/${props.id}`, { name, path: e.name })}>${e.name}/</a>` : html`<code>${e.name}</code>`}</td>
          <td>${e.size === null ? "" : bytes(e.size)}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${data && data.entries.length === 0 && html`<p class="empty">Empty.</p>`}
    ${
      props.kind === "dict" &&
      html`<div class="pager">
      <button disabled=${afters.length === 0} onClick=${() => setAfters(afters.slice(0, -1))}>← Previous</button>
      <button disabled=${!data?.next} onClick=${() => data?.next && setAfters([...afters, data.next])}>Next →</button>
    </div>`
    }
  </section>`;
}
