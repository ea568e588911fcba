import { invalid } from "../api/api-error.js";

/**
 * A path inside a volume as stored: relative, "/"-separated, with no empty, "." or ".."
 * parts. "" is the root. Anything that would leave the root is refused, naming the path.
 */
export function volumePath(p: unknown, what = "path"): string {
  if (typeof p !== "string") throw invalid(`${what} must be a string`);
  if (p.length > 4096) throw invalid(`${what} is longer than 4096 characters`);
  if (p.includes("\0")) throw invalid(`${what} contains a NUL character`);
  const parts: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw invalid(`${what} ${JSON.stringify(p)} escapes the volume's root ("..")`);
    parts.push(part);
  }
  return parts.join("/");
}

/** Whether `path` is `dir` or lies under it ("" is the root). */
export function under(path: string, dir: string): boolean {
  return dir === "" || path === dir || path.startsWith(`${dir}/`);
}
