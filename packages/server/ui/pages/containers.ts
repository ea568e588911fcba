import { bytes, ms } from "../format.js";
import { html } from "../html.js";
import { useLive } from "../live.js";
import { href } from "../router.js";
import { LogView } from "./logs.js";

export function ContainersPage() {
  const live = useLive();
  return html`<section>
    <h2>Containers</h2>
    <div class="scroll"><table>
      <thead><tr><th>Container</th><th>Function</th><th>State</th><th>Image</th><th>Host</th><th>CPU</th><th>Memory</th><th>Uptime</th><th>Running</th><th>Served</th></tr></thead>
      <tbody>${live.containers.map(
        (c) => html`<tr>
          <td><a href=${href(`containers/${c.id}`)}><code>${c.id}</code></a></td><td>${c.appName}.${c.functionName}</td>
          <td><span class=${`badge ${c.state}`}>${c.state}</span></td><td>${c.image}</td><td>${c.host}</td>
          <td>${c.cpuMs === null ? "–" : ms(c.cpuMs)}</td><td>${bytes(c.memoryBytes)}</td><td>${ms(c.uptimeMs)}</td><td>${c.running}</td><td>${c.inputsServed}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${live.containers.length === 0 && html`<p class="empty">No containers running: they start with demand and stop when idle.</p>`}
  </section>`;
}

export function ContainerPage(props: { id: string }) {
  const live = useLive();
  const c = live.containers.find((x) => x.id === props.id);
  return html`<section>
    <h2>Container <code>${props.id}</code> ${c ? html`<span class=${`badge ${c.state}`}>${c.state}</span>` : html`<span class="badge stopped">gone</span>`}</h2>
    ${c && html`<p class="meta">${c.appName}.${c.functionName} · ${c.host} · up ${ms(c.uptimeMs)} · CPU ${c.cpuMs === null ? "–" : ms(c.cpuMs)} · ${bytes(c.memoryBytes)} · ${c.inputsServed} inputs served</p>`}
    <h3>Logs</h3>
    <${LogView} filter=${{ container: props.id }} live=${true} />
  </section>`;
}
