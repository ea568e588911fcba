// Prefetch at default options (issue 16 item 2): a container that runs one input at a time
// holds the next ones, sized from measured run time and turnaround, so short inputs never
// leave it idle; a slow input does not keep those waiting behind it from an idle container;
// and inputs waiting in a container that dies are run again.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, Function_ } from "skiff";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";

type Short = Function_<(i: number) => Promise<{ tag: string; gapUs: number }>>;
type Work = Function_<(ms: number) => Promise<{ tag: string; start: number; end: number }>>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe("prefetch at default options", { timeout: 120_000 }, () => {
  let server: ServerProcess;
  let client: Client;

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/prefetch-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    client = server.client();
  });
  after(() => server.stop());

  /** Maps until two containers answered (a burst scales the function to its two). */
  async function warm<T extends { tag: string }>(f: Function_<(x: number) => Promise<T>>, x: number): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const out = await f.map(Array.from({ length: 2000 }, () => x)).toArray();
      if (new Set(out.map((o) => o.tag)).size >= 2) return;
    }
    assert.fail("the function never ran on two containers");
  }

  it("keeps containers busy with short inputs: the next one is already there when one ends", async () => {
    const f = Function_.fromName<Short>("prefetch-app", "short", { client });
    await warm(f, 0);
    const out = await f.map(Array.from({ length: 20_000 }, (_, i) => i)).toArray();
    const byTag = new Map<string, number[]>();
    for (const o of out) if (o.gapUs >= 0) byTag.set(o.tag, [...(byTag.get(o.tag) ?? []), o.gapUs]);
    const busy = [...byTag.values()].filter((gaps) => gaps.length >= 1000);
    assert.equal(busy.length, 2, `both containers ran a share (${[...byTag.values()].map((g) => g.length)})`);
    for (const gaps of busy) {
      // Without inputs waiting in the container, each gap is a round trip to the server and
      // back (a few hundred µs here, more under load); with them, the runtime's own step.
      const m = median(gaps);
      console.log(`# gap between inputs in a container: median ${m} µs over ${gaps.length} inputs`);
      assert.ok(m < 50, `a container sat ${m} µs (median) between inputs: it waited for each next one`);
    }
  });

  it("does not leave an input waiting behind a slow one in a container while another container is idle", async () => {
    const f = Function_.fromName<Work>("prefetch-app", "work", { client });
    await warm(f, 0);
    // Instant inputs make the server hand many ahead into each container; two slow ones in a
    // row land in one container's run of them, the second behind the first.
    const SLOW = 1500;
    const xs = [...Array(400).fill(0), SLOW, SLOW, ...Array(400).fill(0)];
    const t0 = Date.now();
    const out = await f.map(xs).toArray();
    const took = Date.now() - t0;
    const [a, b] = out.filter((_, i) => xs[i] === SLOW);
    assert.ok(a && b);
    const [first, second] = a.start <= b.start ? [a, b] : [b, a];
    assert.ok(
      second.start < first.end,
      `the second slow input started ${second.start - first.end} ms after the first ended (${first.tag === second.tag ? "same container" : "another container"}): it waited behind it`,
    );
    assert.notEqual(first.tag, second.tag);
    assert.ok(took < 2 * SLOW, `the map took ${took} ms: the slow inputs ran one after the other`);
  });

  it("a stuck input still gets another container while short measured work is held to few", async () => {
    type Lone = Function_<(ms: number) => Promise<string>>;
    const f = Function_.fromName<Lone>("prefetch-app", "lone", { client });
    // One container, its run time measured (one call at a time never asks for a second).
    for (let i = 0; i < 10; i++) await f.remote(0);
    assert.equal((await f.getCurrentStats()).numTotalRunners, 1);
    // An input that runs long holds its container: the next one is not left waiting behind it
    // (it is overdue after START_WORTH_MS, and its share comes back then, with nothing else
    // happening meanwhile to rescale).
    const stuck = await f.spawn(4000);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await f.remote(0);
    const waited = Date.now() - t0;
    assert.ok(waited < 2500, `a call waited ${waited} ms behind an input stuck in the only container`);
    await stuck.get();
    // A burst of instant spawns: a few milliseconds of work, which the container up finishes;
    // one slot per input would start containers for all of them. Printed, not asserted: the
    // run times a container measures include its waits for a CPU, so on a loaded machine the
    // count varies (2-7 seen here with 2 000, 6+ without the cap); scale-need.test checks the rule.
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, (await f.getCurrentStats()).numTotalRunners);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const calls = await Promise.all(Array.from({ length: 500 }, () => f.spawn(0)));
    await Promise.all(calls.map((c) => c.get()));
    sampling = false;
    await sampler;
    console.log(`# containers for a burst of 500 instant spawns: at most ${most}`);
  });

  it("starts an input's timeout clock when it starts, not while it waits in the container", async () => {
    const f = Function_.fromName<Function_<(ms: number) => Promise<number>>>("prefetch-app", "single", { client });
    await f.map(Array.from({ length: 2000 }, () => 0)).toArray(); // short: the server hands inputs ahead
    // One container: the instant inputs after the slow ones wait in it 3 s, past the 2 s timeout.
    const xs = [...Array(200).fill(0), 1500, 1500, ...Array(200).fill(0)];
    const out = await f.map(xs, { returnExceptions: true }).toArray();
    const failed = out.filter((o) => typeof o !== "number");
    assert.equal(failed.length, 0, `${failed.length} timed out, first: ${String(failed[0])}`);
  });

  it("runs again the inputs that waited in a container that died", async () => {
    const f = Function_.fromName<Function_<(i: number, crashAt: number, tag: string) => Promise<number>>>(
      "prefetch-app",
      "crashy",
      { client },
    );
    const tag = `crash-${Date.now()}`;
    // Warm and prefetching (short inputs), then one input kills its container mid-map: it and
    // every input waiting behind it there must still be answered, each exactly as asked.
    await f.starmap(Array.from({ length: 2000 }, (_, i) => [i, -1, tag] as [number, number, string])).toArray();
    const N = 5000;
    const out = await f
      .starmap(Array.from({ length: N }, (_, i) => [i, 2500, tag] as [number, number, string]))
      .toArray();
    assert.deepEqual(
      out,
      Array.from({ length: N }, (_, i) => i),
    );
    // The container held more than the input that killed it: those waiting behind it came back too.
    const requeued = /prefetch-app\.crashy\) is gone \(.*\): re-queueing (\d+) input\(s\)/.exec(server.output());
    assert.ok(requeued, "the container was lost");
    assert.ok(Number(requeued[1]) > 1, `it held ${requeued[1]} input(s) when it died: none waited in it`);
  });
});
