import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ContainerEvents,
  type ContainerSpec,
  parseGpuAdverts,
  parseGpuNeed,
  type WorkerCapacity,
} from "@skiff/protocol";
import { Placement, type PlacementHost } from "./placement.js";

/** A host that starts containers at once and records them; exit(id) ends one. */
function host(name: string, capacity: Partial<WorkerCapacity> = {}) {
  const started: { id: string; gpu: { type: string; count: number } | undefined; events: ContainerEvents }[] = [];
  const h: PlacementHost & { started: typeof started; exit(id: string): void } = {
    id: name,
    name,
    capacity: { maxContainers: 4, memoryMiB: 1024, gpus: [], ...capacity },
    started,
    async start(spec, gpu, events) {
      started.push({ id: spec.containerId, gpu, events });
      return { containerId: spec.containerId, pid: 1, host: name, kill() {} };
    },
    exit(id) {
      started.find((s) => s.id === id)?.events.onExit(0, null);
    },
  };
  return h;
}

let seq = 0;
function spec(o: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    containerId: `ct-${++seq}`,
    token: "t",
    appId: "ap",
    appName: "app",
    functionId: "fu",
    functionName: "f",
    environment: "main",
    controlSocket: "/x",
    env: {},
    blockNetwork: false,
    ...o,
  };
}
const events: ContainerEvents = { onOutput() {}, onExit() {} };

describe("placement", () => {
  it("spreads containers across hosts and respects their container and memory caps", async () => {
    const p = new Placement();
    const a = host("a", { maxContainers: 2 });
    const b = host("b", { maxContainers: 2, memoryMiB: 300 });
    p.addHost(a);
    p.addHost(b);
    for (let i = 0; i < 4; i++) await p.start(spec({ memoryMiB: 128 }), events);
    assert.equal(a.started.length, 2);
    assert.equal(b.started.length, 2);
    // Both full: refused at once, not queued.
    await assert.rejects(p.start(spec(), events), { name: "CapacityError" });
    // b has 44 MiB left: a container needing 100 MiB fits only once a's frees up.
    a.exit(a.started[0]!.id);
    await p.start(spec({ memoryMiB: 100 }), events);
    assert.equal(a.started.length, 3);
    await p.close();
  });

  it("counts a container without memoryMiB on a measuring host by what it uses, and says when room frees", async () => {
    const p = new Placement();
    const usage = new Map<string, number>();
    const base = host("local", { maxContainers: 100, memoryMiB: 1100 });
    const local: PlacementHost & { started: typeof base.started; exit(id: string): void } = {
      ...base,
      measured: true,
      async start(s, gpu, ev) {
        await base.start(s, gpu, ev);
        const id = s.containerId;
        return { containerId: id, pid: 1, kill() {}, usage: () => ({ cpuMs: 0, memoryBytes: usage.get(id) ?? 0 }) };
      },
    };
    p.addHost(local);
    let freed = 0;
    p.onCapacityFreed(() => freed++);
    const a = await p.start(spec(), events);
    // Counted as DEFAULT_CONTAINER_MIB (128) until measured: 8 fit in 1100 MiB, not 9.
    for (let i = 0; i < 6; i++) await p.start(spec(), events);
    assert.equal(p.hasRoom({}), true);
    await p.start(spec(), events);
    assert.equal(p.hasRoom({}), false, "8 x 128 MiB estimated: full");
    // Measured at 20 MiB each: room again (a measurement is at most a second old when read).
    for (const s of local.started) usage.set(s.id, 20 * 1024 * 1024);
    p.hosts()[0]!.measuredAt = 0;
    assert.equal(p.hasRoom({}), true, "8 x 20 MiB measured leaves room");
    // One grows to 900 MiB: full again, though it declared nothing.
    usage.set(a.containerId, 900 * 1024 * 1024);
    p.hosts()[0]!.measuredAt = 0;
    assert.equal(p.hasRoom({}), false);
    await assert.rejects(p.start(spec(), events), { name: "CapacityError" });
    // A declared memoryMiB counts as declared, measured or not.
    local.exit(a.containerId);
    await new Promise((r) => setImmediate(r));
    assert.equal(freed, 1, "room freed when a container ended");
    assert.equal(p.hasRoom({ memoryMiB: 800 }), true);
    assert.equal(p.hasRoom({ memoryMiB: 1000 }), false);
    await p.close();
  });

  it("measures a container by its handle's memoryBytes where it has one, not its whole usage", async () => {
    const p = new Placement();
    const base = host("local", { maxContainers: 100, memoryMiB: 1100 });
    let usageReads = 0;
    const local: PlacementHost = {
      ...base,
      measured: true,
      async start(s, gpu, ev) {
        await base.start(s, gpu, ev);
        return {
          containerId: s.containerId,
          pid: 1,
          kill() {},
          usage: () => {
            usageReads++;
            return { cpuMs: 0, memoryBytes: 1 };
          },
          memoryBytes: () => 1000 * 1024 * 1024,
        };
      },
    };
    p.addHost(local);
    await p.start(spec(), events);
    p.hosts()[0]!.measuredAt = 0;
    // 1000 MiB measured (memoryBytes), not 1 byte (usage): no room for another default one.
    assert.equal(p.hasRoom({}), false);
    assert.equal(usageReads, 0, "usage() was read for the memory");
    await p.close();
  });

  it("places GPU work only where the type is advertised, keeps GPU hosts for it, and counts GPUs", async () => {
    const p = new Placement();
    const cpu = host("cpu");
    const gpu = host("gpu", { gpus: [{ type: "NVIDIA H100 80GB", count: 2 }] });
    p.addHost(gpu);
    p.addHost(cpu);
    await p.start(spec(), events);
    assert.equal(cpu.started.length, 1, "work without GPUs goes to the host without GPUs first");
    await p.start(spec({ gpu: "H100" }), events);
    await p.start(spec({ gpu: "a100,h100" }), events);
    assert.deepEqual(
      gpu.started.map((s) => s.gpu),
      [
        { type: "NVIDIA H100 80GB", count: 1 },
        { type: "NVIDIA H100 80GB", count: 1 },
      ],
    );
    // Both GPUs taken: a third waits (the host could run it when a GPU frees) — refused now.
    await assert.rejects(p.start(spec({ gpu: "H100" }), events), { name: "CapacityError" });
    // Stopping an idle container on the CPU host would not make room for GPU work (the fleet's
    // eviction asks this), nor for more memory than the host has.
    assert.equal(p.couldRunOn("cpu", { gpu: "H100" }), false);
    assert.equal(p.couldRunOn("gpu", { gpu: "H100" }), true);
    assert.equal(p.couldRunOn("cpu", {}), true);
    assert.equal(p.couldRunOn("cpu", { memoryMiB: 2048 }), false);
    assert.equal(p.couldRunOn("gone", {}), false);
    await p.close();
  });

  it("waits for a worker that fits to join, then fails after the placement timeout naming the need", async () => {
    // The placement timer does not hold the process open (a server does): this test does.
    const keepAlive = setInterval(() => {}, 50);
    const p = new Placement({ timeoutMs: 300 });
    p.addHost(host("cpu"));
    const waiting = p.start(spec({ gpu: "A100:2" }), events);
    const joined = host("a100", { gpus: [{ type: "A100", count: 4 }] });
    p.addHost(joined);
    await waiting;
    assert.deepEqual(joined.started[0]!.gpu, { type: "A100", count: 2 });
    const t0 = Date.now();
    await assert.rejects(p.start(spec({ gpu: "H100:2" }), events), (err: Error) => {
      assert.equal(err.name, "PlacementError");
      assert.match(err.message, /within 0 s \(--placement-timeout-ms\): it needs 2 GPU\(s\) of type H100 and 128 MiB/);
      assert.match(err.message, /a100: A100:4/);
      return true;
    });
    assert.ok(Date.now() - t0 >= 250);
    assert.match(p.unplaceable({ gpu: "H100" }) ?? "", /no connected worker can run a container needing 1 GPU/);
    assert.equal(p.unplaceable({ gpu: "a100" }), undefined);
    await p.close();
    clearInterval(keepAlive);
  });

  it("places containers with an image or volumes on workers too", async () => {
    const p = new Placement();
    const remote = host("w1");
    p.addHost(remote);
    assert.equal(p.unplaceable({ imageKey: "k" }), undefined, "no warning: a worker can run it");
    await p.start(spec({ imageKey: "k" }), events);
    await p.start(
      spec({ mounts: [{ hostPath: "/v", mountPath: "/data", readOnly: false, volumeId: "vo-1" }] }),
      events,
    );
    assert.equal(remote.started.length, 2);
    await p.close();
  });

  it("parses GPU requests and adverts, refusing nonsense", () => {
    assert.deepEqual(parseGpuNeed("H100"), { types: ["H100"], count: 1 });
    assert.deepEqual(parseGpuNeed("H100,A100:2"), { types: ["H100", "A100"], count: 2 });
    assert.deepEqual(parseGpuNeed("any:4"), { types: [], count: 4 });
    assert.match(parseGpuNeed("H100:0") as string, /count after ":" must be an integer from 1 to 64/);
    assert.deepEqual(parseGpuAdverts("H100:8, A10"), [
      { type: "H100", count: 8 },
      { type: "A10", count: 1 },
    ]);
    assert.match(parseGpuAdverts("banana:-1") as string, /"banana:-1" is not TYPE:COUNT/);
    assert.match(parseGpuAdverts(":3") as string, /is not TYPE:COUNT/);
  });
});
