import { rmSync } from "node:fs";
import { connect } from "node:net";

/** A second server started on a data directory a running server uses. */
export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

/**
 * Makes way for this server's control socket at `path` (in its data directory): a file left
 * there by a server that is gone is removed; one a running server still answers on is not,
 * and this start fails instead. Removed, it would cut that server's containers off, and two
 * servers would then share one store. The check is a connect (about a millisecond), made
 * before the store is opened and the warm pool is started: it is what lets them start side
 * by side. Two servers started at the same instant on one directory are not told apart.
 * @throws DataDirInUseError while a server answers on `path`
 */
export async function claimControlSocket(path: string, dataDir: string): Promise<void> {
  if (await answers(path))
    throw new DataDirInUseError(
      `another Skiff server is running on the data directory ${dataDir} (its control socket ${path} answers): stop it first, or give this one another --data-dir`,
    );
  rmSync(path, { force: true });
}

/** Whether something accepts connections on the unix socket `path` (a missing or stale file: no). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
