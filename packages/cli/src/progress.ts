import type { MapProgressEvent } from "skiff";

/** How often progress lines are redrawn. */
const REDRAW_MS = 100;
/** Maps shown at once; more running maps are summed up in one line. */
const MAX_LINES = 8;

interface Running {
  e: MapProgressEvent;
  startedAt: number;
}

type Write = NodeJS.WriteStream["write"];

/**
 * Progress lines at the bottom of a terminal, one per running map: done/total (once the total
 * is known), rate and failures. Anything else printed meanwhile (logs, the entrypoint's own
 * console.log) lifts the lines first and they are drawn again after, so output is never
 * overwritten. Only for a TTY: the caller does not create one otherwise.
 */
export class ProgressLines {
  private readonly maps = new Map<string, Running>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly originals: [NodeJS.WriteStream, Write][] = [];
  private readonly raw: (s: string) => void;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    const own = out.write.bind(out) as (s: string) => boolean;
    this.raw = (s) => void own(s);
    for (const stream of new Set([process.stdout, process.stderr, out])) {
      const original = stream.write;
      this.originals.push([stream, original]);
      stream.write = ((...args: Parameters<Write>) => {
        this.clear();
        const r = original.apply(stream, args);
        if (this.maps.size > 0) this.schedule();
        return r;
      }) as Write;
    }
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.redraw();
    }, REDRAW_MS);
  }

  update(e: MapProgressEvent): void {
    if (e.ended) {
      this.maps.delete(e.callId);
      this.redraw();
      return;
    }
    const r = this.maps.get(e.callId);
    if (r) r.e = e;
    else this.maps.set(e.callId, { e, startedAt: Date.now() });
    this.schedule();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.maps.clear();
    this.clear();
    for (const [stream, original] of this.originals) stream.write = original;
  }

  private redraw(): void {
    this.clear();
    this.draw();
  }

  private clear(): void {
    if (this.drawn > 0) this.raw(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    const lines: string[] = [];
    const now = Date.now();
    const width = (this.out.columns || 100) - 1;
    for (const { e, startedAt } of [...this.maps.values()].slice(0, MAX_LINES)) {
      const secs = Math.max(0.001, (now - startedAt) / 1000);
      const count = e.total !== undefined ? `${e.done}/${e.total}` : `${e.done}`;
      const pct = e.total ? ` ${Math.floor((e.done / e.total) * 100)}%` : "";
      const fails = e.failed > 0 ? `, ${e.failed} failed` : "";
      lines.push(`  map ${e.what}: ${count}${pct} (${rate(e.done / secs)}/s${fails})`.slice(0, width));
    }
    if (this.maps.size > MAX_LINES) lines.push(`  … and ${this.maps.size - MAX_LINES} more maps`);
    if (lines.length === 0) return;
    this.raw(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
}

function rate(r: number): string {
  return r >= 100 ? String(Math.round(r)) : r.toFixed(1);
}
