/** Terminal output of the CLI: progress on stderr, results on stdout. */
const color = process.stderr.isTTY && !process.env.NO_COLOR;
const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Set by `--debug`: the embedded server's own lines are shown too. */
let debugOn = false;
export function setDebug(on: boolean): void {
  debugOn = on;
}

export const ui = {
  get debug(): boolean {
    return debugOn;
  },
  step(msg: string): void {
    process.stderr.write(`${paint("32", "✓")} ${msg}\n`);
  },
  info(msg: string): void {
    process.stderr.write(`${msg}\n`);
  },
  warn(msg: string): void {
    process.stderr.write(`${paint("33", "warning:")} ${msg}\n`);
  },
  /** One line: `Error: msg`, or with a label (an error's class name) in its place. */
  error(msg: string, label = "Error"): void {
    process.stderr.write(`${paint("31", `${label}:`)} ${msg}\n`);
  },
  out(msg: string): void {
    process.stdout.write(`${msg}\n`);
  },
  dim(s: string): string {
    return paint("2", s);
  },
};

/** Formats rows as aligned columns. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, r[i]!.length);
  }
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
