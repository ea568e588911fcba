// What a test cluster (hosts.ts) leaves behind when its test file is killed (a timeout, a
// Ctrl-C) before destroy() runs: processes started with `ip netns exec` keep running, in
// namespaces that keep their names, and the workers among them leave their containers' NAT
// namespaces (`skiff-<worker pid>-N`, with pasta). Each cluster lists what it made in
// <tmpdir>/skiff-test-clusters/<its pid>.json; the next cluster to start removes what is
// listed by a process that is gone.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REGISTRY = join(tmpdir(), "skiff-test-clusters");

interface Entry {
  /** The test process that made the cluster, and its start time (a reused pid is not it). */
  pid: number;
  started: string;
  /** Network namespaces it made (the hub and the nodes). */
  namespaces: string[];
  /** Processes it started on the nodes: a worker's NAT namespaces are named after its pid. */
  pids: number[];
  /** Its scratch directory. */
  home: string;
}

/** A process's start time (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });

/** The NAT namespaces a worker (or server) process of pid `pid` made and has not removed. */
export function natNamespaces(pid: number): string[] {
  let list = "";
  try {
    list = ip("netns", "list");
  } catch {
    return [];
  }
  const re = new RegExp(`^(skiff-${pid}-\\d+)\\b`, "gm");
  return [...list.matchAll(re)].map((m) => m[1]!);
}

/**
 * Removes network namespaces with every process still in them (SIGKILL first: a namespace
 * whose name is gone lives on while a process holds it).
 */
export function removeNamespaces(names: string[]): void {
  for (const ns of names) {
    let pids: number[] = [];
    try {
      pids = ip("netns", "pids", ns).split("\n").filter(Boolean).map(Number);
    } catch {
      continue; // no such namespace
    }
    for (const p of pids)
      try {
        process.kill(p, "SIGKILL");
      } catch {}
  }
  for (const ns of names)
    try {
      ip("netns", "del", ns);
    } catch {}
}

/** Removes the NAT namespaces (and their pasta and container processes) of processes that are gone. */
export function removeNatNamespacesOf(pids: number[]): void {
  removeNamespaces(pids.filter((p) => startTime(p) === undefined).flatMap(natNamespaces));
}

/** This process's entry: written at each change, removed by `done()`. */
export class ClusterRecord {
  private readonly file = join(REGISTRY, `${process.pid}.json`);
  private readonly entry: Entry;

  constructor(home: string) {
    mkdirSync(REGISTRY, { recursive: true });
    this.entry = { pid: process.pid, started: startTime(process.pid) ?? "", namespaces: [], pids: [], home };
    this.write();
  }

  /** Call before making the namespace, so a kill half-way through still finds it. */
  namespace(name: string): void {
    this.entry.namespaces.push(name);
    this.write();
  }

  process(pid: number | undefined): void {
    if (pid === undefined) return;
    this.entry.pids.push(pid);
    this.write();
  }

  done(): void {
    rmSync(this.file, { force: true });
  }

  private write(): void {
    writeFileSync(this.file, JSON.stringify(this.entry));
  }
}

/**
 * Removes what the clusters of test processes that are gone left: their processes, the NAT
 * namespaces of their workers, their namespaces and scratch directories. Returns what it removed
 * (for a test of this sweep).
 */
export function sweepDeadClusters(): { namespaces: string[] }[] {
  let files: string[] = [];
  try {
    files = readdirSync(REGISTRY).filter((f) => /^\d+\.json$/.test(f));
  } catch {
    return [];
  }
  const swept: { namespaces: string[] }[] = [];
  for (const f of files) {
    const path = join(REGISTRY, f);
    let e: Entry;
    try {
      e = JSON.parse(readFileSync(path, "utf8")) as Entry;
    } catch {
      rmSync(path, { force: true }); // half-written by a process killed mid-write
      continue;
    }
    if (e.pid === process.pid || startTime(e.pid) === e.started) continue; // its owner still runs
    // Node processes first (a worker would make new NAT namespaces), then its containers'.
    removeNamespaces(e.namespaces);
    const nat = e.pids.flatMap(natNamespaces);
    removeNamespaces(nat);
    rmSync(e.home, { recursive: true, force: true });
    rmSync(path, { force: true });
    swept.push({ namespaces: [...e.namespaces, ...nat] });
  }
  return swept;
}
