import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { GpuAdvert } from "@skiff/protocol";

/**
 * The device files a GPU worker hands its containers: one per GPU (`…/nvidia0`, `…/nvidia1`,
 * in index order) and the shared ones every GPU container needs (`nvidiactl`, `nvidia-uvm`, …).
 * Each container gets its share of the GPUs and `CUDA_VISIBLE_DEVICES` naming them.
 */
export class GpuDevices {
  private readonly perGpu: { index: number; path: string | undefined }[];
  private readonly shared: string[];
  private readonly free: Set<number>;

  constructor(adverts: GpuAdvert[], devicePaths: string[], log: (m: string) => void) {
    const total = adverts.reduce((n, g) => n + g.count, 0);
    const numbered = new Map<number, string>();
    this.shared = [];
    for (const p of devicePaths) {
      const m = /^nvidia(\d+)$/.exec(basename(p));
      if (m) numbered.set(Number(m[1]), p);
      else this.shared.push(p);
    }
    if (total > 0 && numbered.size === 0)
      log(
        `warning: --gpus advertises ${total} GPU(s) but no GPU device files were found (--gpu-devices): containers get CUDA_VISIBLE_DEVICES only`,
      );
    else if (total > 0 && numbered.size < total)
      throw new Error(
        `--gpus advertises ${total} GPU(s) but --gpu-devices has only ${numbered.size} per-GPU device file(s) (nvidia0, nvidia1, …)`,
      );
    this.perGpu = Array.from({ length: total }, (_, i) => ({ index: i, path: numbered.get(i) }));
    this.free = new Set(this.perGpu.map((g) => g.index));
  }

  /** Takes `count` free GPUs; undefined when fewer are free. */
  take(count: number): { indexes: number[]; devices: string[] } | undefined {
    if (count === 0) return { indexes: [], devices: [] };
    if (this.free.size < count) return undefined;
    const indexes = [...this.free].sort((a, b) => a - b).slice(0, count);
    for (const i of indexes) this.free.delete(i);
    const devices = [
      ...indexes.map((i) => this.perGpu[i]!.path).filter((p): p is string => p !== undefined),
      ...this.shared,
    ];
    return { indexes, devices };
  }

  give(indexes: number[]): void {
    for (const i of indexes) this.free.add(i);
  }
}

/**
 * Expands `--gpu-devices` (comma-separated paths, `*` allowed in the last part); the default
 * is /dev/nvidia* (the driver's libraries are under /usr, which containers see read-only).
 */
export function expandDevicePaths(spec: string | undefined): string[] {
  const out: string[] = [];
  for (const part of (spec ?? "/dev/nvidia*").split(",")) {
    const p = part.trim();
    if (!p) continue;
    if (!p.includes("*")) {
      if (existsSync(p)) out.push(p);
      continue;
    }
    const dir = dirname(p);
    const re = new RegExp(
      `^${basename(p)
        .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")}$`,
    );
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (re.test(n)) out.push(join(dir, n));
  }
  return out;
}
