/**
 * Where user code called into the SDK (`app.ts:12`), from a stack trace: the frame `depth`
 * calls above this one (1: the SDK function that asks, 2: its caller). Names anonymous
 * functions in errors raised while an app is defined (the export name is not known yet).
 * Source-mapped when the bundle's map is enabled.
 */
export function callSite(depth = 2): string | undefined {
  const frames = (new Error().stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
  const m = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?$/.exec(frames[depth]?.trim() ?? "");
  if (!m || m[1]!.startsWith("node:")) return undefined;
  const file = m[1]!.startsWith("file://") ? decodeURIComponent(new URL(m[1]!).pathname) : m[1]!;
  const cwd = (globalThis as { process?: { cwd?(): string } }).process?.cwd?.();
  return `${cwd && file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file}:${m[2]}`;
}
