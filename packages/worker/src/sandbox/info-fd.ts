import type { Readable } from "node:stream";

/** The pid of bubblewrap's child (in the container's namespaces), from its --info-fd JSON. */
export function sandboxChildPid(child: { stdio: readonly unknown[] }): Promise<number> {
  return new Promise((resolve, reject) => {
    const info = child.stdio[3] as Readable;
    let text = "";
    let pid: number | undefined;
    info.setEncoding("utf8");
    info.on("data", (d: string) => {
      text += d;
      const m = pid === undefined ? /"child-pid":\s*(\d+)/.exec(text) : null;
      if (m) {
        pid = Number(m[1]);
        resolve(pid);
      }
      // Closed only once bubblewrap has written the whole object (it writes the namespaces'
      // ids after the pid, in writes of their own): a read end closed before that kills it
      // with SIGPIPE, and with it the container that was starting.
      if (pid !== undefined && text.trimEnd().endsWith("}")) info.destroy();
    });
    info.on("error", () => {});
    info.on("close", () => {
      if (pid === undefined) reject(new Error("the sandbox exited before it started"));
    });
  });
}
