import type { VolumeMountWire } from "@skiff/protocol";
import type { VolumeMount, VolumeMounter } from "../engine/fleet.js";
import type { ObjectRegistry } from "./registry.js";
import type { VolumeService } from "./volume-service.js";

/**
 * Prepares the volumes of a container as it starts: resolves each by name in the container's
 * environment (or takes an ephemeral one's id) and makes its local copy.
 */
export function volumeMounter(registry: ObjectRegistry, volumes: VolumeService): VolumeMounter {
  return {
    async mount(containerId: string, environment: string, wanted: Record<string, VolumeMountWire>) {
      const out: VolumeMount[] = [];
      try {
        for (const [mountPath, m] of Object.entries(wanted)) {
          const objectId = m.objectId
            ? (await registry.resolve({ environment }, m.objectId, "volume")).id
            : (await registry.get({ environment }, "volume", m.name ?? "", environment, m.createIfMissing)).objectId;
          const hostPath = await volumes.mount(containerId, objectId, m.readOnly);
          out.push({ objectId, hostPath, mountPath, readOnly: m.readOnly });
        }
      } catch (err) {
        await volumes.unmountAll(containerId);
        throw err;
      }
      return out;
    },
    unmount(containerId: string) {
      void volumes.unmountAll(containerId);
    },
  };
}
