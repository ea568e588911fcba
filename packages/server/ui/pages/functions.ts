import { Progress, Spark } from "../charts.js";
import { ms, pct } from "../format.js";
import { html } from "../html.js";
import { useLive } from "../live.js";
import { href } from "../router.js";

/** Running maps with their progress, then every function with its live numbers and last hour. */
export function FunctionsPage() {
  const live = useLive();
  const now = Date.now();
  return html`<section>
    ${
      live.maps.length > 0 &&
      html`<h2>Running maps</h2>
      <ul class="maps">${live.maps.map((m) => {
        const secs = Math.max(0.001, (now - m.startedAt) / 1000);
        return html`<li class="map" data-call=${m.callId}>
          <div><b>${m.appName}.${m.functionName}</b> <code>${m.callId}</code></div>
          <${Progress} done=${m.done} failed=${m.failed} total=${m.total} inFlight=${m.inFlight} />
          <div class="meta"><span class="count">${m.done}${m.total !== null ? ` / ${m.total}` : ""}</span> done · ${(m.done / secs).toFixed(1)}/s · ${m.failed} failed · ${m.inFlight} in flight</div>
        </li>`;
      })}</ul>`
    }
    <h2>Functions</h2>
    ${live.functions.length === 0 && html`<p class="empty">No running functions.</p>`}
    <div class="cards">${live.functions.map(
      (f) => html`<article class="card" data-function=${f.name}>
        <header><a href=${href("calls", { function: f.id })}><b>${f.name}</b></a> <small>${f.appName}${f.baseId ? " (instance)" : ""}</small></header>
        <dl>
          <div><dt>Backlog</dt><dd>${f.backlog}</dd></div>
          <div><dt>Running</dt><dd>${f.running}</dd></div>
          <div><dt>Containers</dt><dd>${f.containers}</dd></div>
          <div><dt>Calls/min</dt><dd>${f.callsPerMinute}</dd></div>
          <div><dt>p50</dt><dd>${ms(f.p50Ms)}</dd></div>
          <div><dt>p99</dt><dd>${ms(f.p99Ms)}</dd></div>
          <div><dt>Errors</dt><dd>${pct(f.errorRate)}</dd></div>
          <div><dt>Cold starts</dt><dd>${f.totals.coldStarts}</dd></div>
        </dl>
        <${Spark} points=${f.series} pick=${(p: { calls: number }) => p.calls} label="calls" />
        <${Spark} points=${f.series} pick=${(p: { failures: number }) => p.failures} label="failures" tone="bad" />
        <${Spark} points=${f.series} pick=${(p: { backlog: number }) => p.backlog} label="backlog" tone="warn" />
        ${f.webUrl && html`<p class="meta"><a href=${f.webUrl}>${f.webUrl}</a></p>`}
      </article>`,
    )}</div>
  </section>`;
}
