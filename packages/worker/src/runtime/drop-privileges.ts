/**
 * Imported first by the runtime: in an image container started by a root server, the runtime
 * starts as root with only CAP_SETUID and CAP_SETGID (bubblewrap without a user namespace,
 * which would map it back to root on the host; no_new_privs set), and becomes the container's
 * user here, before it connects, reads its assignment or loads the app (bundled, the shared
 * chunks of the protocol and SDK, definitions only, are evaluated just before this). The image holds no setpriv of the host's (its root
 * is the image), but it has the host's Node. Anything short of an unprivileged process with
 * no capabilities left ends the container.
 */
import { readFileSync } from "node:fs";

const runAs = process.env.SKIFF_RUN_AS;
if (runAs) {
  delete process.env.SKIFF_RUN_AS;
  const fail = (why: string): never => {
    process.stderr.write(`skiff runtime: could not become user ${runAs}: ${why}\n`);
    process.exit(126);
  };
  const [uid, gid] = runAs.split(":").map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) fail("not a uid:gid of an unprivileged user");
  try {
    process.setgroups!([]);
    process.setgid!(gid!);
    process.setuid!(uid!);
  } catch (err) {
    fail((err as Error).message);
  }
  const status = readFileSync("/proc/self/status", "utf8");
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
  if (
    field("Uid")
      .split(/\s+/)
      .some((u) => Number(u) !== uid)
  )
    fail(`uids are ${field("Uid")}`);
  if (
    field("Gid")
      .split(/\s+/)
      .some((g) => Number(g) !== gid)
  )
    fail(`gids are ${field("Gid")}`);
  for (const set of ["CapPrm", "CapEff", "CapAmb"])
    if (BigInt(`0x${field(set)}`) !== 0n) fail(`${set} is ${field(set)}`);
  if (field("NoNewPrivs") !== "1") fail("no_new_privs is not set");
}
