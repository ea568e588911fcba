import { runProcess } from "./cli.js";

export interface Example {
  line: number;
  script: string;
  expected: string[];
}

/** The ```sh blocks of a markdown file that run curl, with their `# ` output lines. */
export function curlExamples(markdown: string): Example[] {
  const out: Example[] = [];
  const re = /^```sh\n([\s\S]*?)^```/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    const body = m[1]!;
    if (!body.includes("curl ")) continue;
    const lines = body.split("\n");
    out.push({
      line: markdown.slice(0, m.index).split("\n").length + 1,
      script: lines.filter((l) => !l.startsWith("# ")).join("\n"),
      expected: lines.filter((l) => l.startsWith("# ")).map((l) => l.slice(2)),
    });
  }
  return out;
}

/** `…` in a documented output line stands for anything. */
export function matches(pattern: string, actual: string): boolean {
  const re = pattern
    .split("…")
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${re}$`).test(actual);
}

/** Runs one example against a server on `port` (the docs use 7420); returns why it failed, if it did. */
export async function runExample(
  doc: string,
  ex: Example,
  port: string,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  const script = `set -euo pipefail\n${ex.script.replaceAll(":7420", `:${port}`)}`;
  const r = await runProcess("bash", ["-c", script], { env, timeoutMs: 30_000 });
  if (r.code !== 0) return `${doc}:${ex.line}: exit ${r.code}: ${r.stderr}`;
  const got = r.stdout.split("\n").filter((l) => l.trim() !== "");
  if (got.length !== ex.expected.length) return `${doc}:${ex.line}: got\n${r.stdout}`;
  for (let i = 0; i < got.length; i++)
    if (!matches(ex.expected[i]!, got[i]!)) return `${doc}:${ex.line}: expected ${ex.expected[i]}\n got ${got[i]}`;
  return undefined;
}
