import { totalmem } from "node:os";

/**
 * The smallest a container is counted as when working out how many the host holds by default:
 * an idle runtime's cgroup holds about 17 MiB (measured, cgroup v1, loaded machine), one that
 * has loaded an app and run calls a few tens. Memory, counted by what containers use, is what
 * limits a host; the container count only backs it up.
 */
const SMALLEST_CONTAINER_MIB = 32;

/**
 * What this host holds by default (`skiff server --max-containers/--memory-mib`): 80% of its
 * memory for containers (the rest for the control plane and the system), and as many
 * containers as that memory holds at their smallest.
 */
export function defaultHostCapacity(): { maxContainers: number; memoryMiB: number } {
  const memoryMiB = Math.max(64, Math.floor((totalmem() * 0.8) / 1024 / 1024));
  return { memoryMiB, maxContainers: Math.max(1, Math.floor(memoryMiB / SMALLEST_CONTAINER_MIB)) };
}
