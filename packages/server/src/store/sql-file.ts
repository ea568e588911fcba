import { readFileSync } from "node:fs";

/** Splits a file of "-- name: x" sections into named SQL statements. */
export function loadNamedStatements(path: URL): Map<string, string> {
  const text = readFileSync(path, "utf8");
  const out = new Map<string, string>();
  let name: string | undefined;
  let body: string[] = [];
  const push = () => {
    if (name) out.set(name, body.join("\n").trim());
  };
  for (const line of text.split("\n")) {
    const m = /^--\s*name:\s*(\w+)/.exec(line);
    if (m) {
      push();
      name = m[1];
      body = [];
    } else if (!line.startsWith("--")) body.push(line);
  }
  push();
  return out;
}
