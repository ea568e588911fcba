// A node:test reporter (beside the TAP one): one line per test file, "<seconds> <file>", as each
// file finishes. The time is wall time from the file's start to its end (its process start-up
// and imports included, which the TAP durations leave out). scripts/test-runs.sh adds up these
// lines and prints the slowest files at the end.
import { relative } from "node:path";

export default async function* fileTimes(source) {
  const started = new Map();
  for await (const event of source) {
    const { file, name, nesting } = event.data ?? {};
    // The file itself is reported as a test named after its path (its own tests are named otherwise).
    if (!file || name !== file || nesting !== 0) continue;
    if (event.type === "test:dequeue") started.set(file, Date.now());
    if (event.type !== "test:complete") continue;
    const ms = Date.now() - (started.get(file) ?? Date.now() - event.data.details.duration_ms);
    started.delete(file);
    yield `${(ms / 1000).toFixed(1)} ${relative(process.cwd(), file)}${event.data.details.error ? " (failed)" : ""}\n`;
  }
}
