import { spawn } from "node:child_process";
import { type BigIntStats, linkSync, lstatSync, readdirSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { which } from "./capability.js";

const setpriv = which("setpriv");

/**
 * Runs cp (GNU coreutils), which keeps owners, modes, times (to the nanosecond) and links; it
 * dies with the server (setpriv), so a killed server leaves no copy running.
 */
export function cp(args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const [file, argv] = setpriv ? [setpriv, ["--pdeathsig", "SIGKILL", "--", "cp", ...args]] : ["cp", args];
    const child = spawn(file, argv, {
      stdio: ["ignore", "ignore", "pipe"],
      ...(signal ? { signal, killSignal: "SIGKILL" } : {}),
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (t: string) => {
      if (err.length < 4096) err += t;
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`cp ${args[0]} failed: ${err.trim()}`))));
  });
}

/** A full copy, for a step that may change files in place (apt appends to logs, dpkg rewrites). */
export const copyTree = (from: string, to: string, signal?: AbortSignal) => cp(["-a", "--", from, to], signal);
/** A copy of hard links, for a step that only adds or replaces whole files. */
export const linkTree = (from: string, to: string, signal?: AbortSignal) => cp(["-al", "--", from, to], signal);

/**
 * After a step ran on a full copy of its parent: every regular file still equal to the
 * parent's (same size, mode, owner and modification time to the nanosecond, as rsync judges)
 * becomes a hard link to the parent's, so a layer holds only what its step changed. Returns
 * the bytes of the files that remain its own.
 */
export function dedupeAgainst(parentRoot: string, root: string): number {
  let own = 0;
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p, { bigint: true });
      if (st.isDirectory()) {
        walk(r);
        continue;
      }
      if (!st.isFile()) continue;
      let ps: BigIntStats;
      try {
        ps = lstatSync(join(parentRoot, r), { bigint: true });
      } catch {
        own += Number(st.size);
        continue;
      }
      if (ps.ino === st.ino) continue;
      const same =
        ps.isFile() &&
        ps.size === st.size &&
        ps.mode === st.mode &&
        ps.uid === st.uid &&
        ps.gid === st.gid &&
        ps.mtimeNs === st.mtimeNs;
      if (!same) {
        own += Number(st.size);
        continue;
      }
      // Link next to it, then rename over it: the file is never missing.
      const tmp = `${p}.skiff-link`;
      try {
        linkSync(join(parentRoot, r), tmp);
        renameSync(tmp, p);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {}
        own += Number(st.size);
      }
    }
  };
  walk("");
  return own;
}

/** Bytes of the regular files under `root` (for a layer that shares nothing). */
export function treeBytes(root: string): number {
  let total = 0;
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) total += st.size;
    }
  };
  walk(root);
  return total;
}
