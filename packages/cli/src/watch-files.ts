import { type FSWatcher, watch } from "node:fs";

/**
 * Calls `onChange` once after any of `files` changes (several saves within `debounceMs` are
 * one change). Editors that save by replacing the file end the watch on it, so the caller
 * watches the new set of files after each reload.
 */
export function watchFiles(files: string[], onChange: () => void, debounceMs = 40): () => void {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      if (!closed) onChange();
    }, debounceMs);
  };
  for (const f of files) {
    try {
      watchers.push(watch(f, { persistent: true }, fire));
    } catch {
      // Gone between bundling and watching: the next save of the entry brings it back.
    }
  }
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
