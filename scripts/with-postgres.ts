// Runs a command with a private Postgres cluster for the tests (test/helpers/postgres.ts),
// shared by every test process through SKIFF_TEST_PG, and removes the cluster afterwards.
//   node --import tsx scripts/with-postgres.ts <command> [args…]
import { spawn } from "node:child_process";
import { destroyCluster, initCluster } from "../test/helpers/postgres.js";

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error("usage: with-postgres.ts <command> [args…]");
  process.exit(2);
}
const cluster = await initCluster();
let code = 1;
try {
  const child = spawn(cmd, args, { stdio: "inherit", env: { ...process.env, SKIFF_TEST_PG: JSON.stringify(cluster) } });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
  code = await new Promise<number>((r) => child.on("exit", (c, sig) => r(c ?? (sig ? 128 : 1))));
} finally {
  destroyCluster(cluster);
}
process.exit(code);
