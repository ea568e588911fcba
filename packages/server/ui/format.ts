/** Small formatting helpers shared by the pages. */

export function ago(t: number | null, now = Date.now()): string {
  if (t === null) return "–";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(t).toISOString().slice(0, 16).replace("T", " ");
}

export function ms(v: number | null): string {
  if (v === null) return "–";
  if (v === 0) return "0 ms";
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  return `${Math.floor(v / 60_000)}m ${Math.round((v % 60_000) / 1000)}s`;
}

export function bytes(v: number | null): string {
  if (v === null) return "–";
  if (v < 1024) return `${v} B`;
  if (v < 1024 ** 2) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 ** 3) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  return `${(v / 1024 ** 3).toFixed(2)} GiB`;
}

export function pct(v: number | null): string {
  return v === null ? "–" : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
}

export function time(t: number | null): string {
  return t === null ? "–" : new Date(t).toLocaleTimeString();
}
