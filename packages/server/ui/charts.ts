import type { MinutePoint } from "@skiff/protocol";
import { html } from "./html.js";

/** A small bar chart of one series over the last hour (SVG, no library). */
export function Spark(props: {
  points: MinutePoint[];
  pick: (p: MinutePoint) => number;
  label: string;
  tone?: string;
}) {
  const w = 180;
  const hgt = 36;
  const vals = props.points.map(props.pick);
  const max = Math.max(1, ...vals);
  const bw = w / Math.max(1, vals.length);
  const total = vals.reduce((a, b) => a + b, 0);
  return html`<figure class="spark">
    <svg viewBox="0 0 ${w} ${hgt}" width=${w} height=${hgt} role="img" aria-label=${`${props.label}, last hour`}>
      ${vals.map((v, i) => {
        const bh = v === 0 ? 0 : Math.max(1, (v / max) * hgt);
        return html`<rect x=${i * bw} y=${hgt - bh} width=${Math.max(1, bw - 0.5)} height=${bh} class=${props.tone ?? "bar"} />`;
      })}
    </svg>
    <figcaption>${props.label} <b>${total}</b> <small>(max ${max}/min)</small></figcaption>
  </figure>`;
}

/** A progress bar: done of total (or of done + in flight while the total is unknown). */
export function Progress(props: { done: number; failed: number; total: number | null; inFlight: number }) {
  const total = props.total ?? props.done + props.inFlight;
  const ok = total > 0 ? ((props.done - props.failed) / total) * 100 : 0;
  const bad = total > 0 ? (props.failed / total) * 100 : 0;
  return html`<div class="progress" role="progressbar" aria-valuenow=${props.done} aria-valuemax=${props.total ?? undefined}>
    <span class="ok" style=${{ width: `${ok}%` }}></span><span class="bad" style=${{ width: `${bad}%` }}></span>
  </div>`;
}
