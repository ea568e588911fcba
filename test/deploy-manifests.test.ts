// docs/deploy/: every Kubernetes manifest is checked against the API types of kubernetes-models
// (schemas shipped in the package: no download), and the manifests and the systemd unit run the
// commands this version of Skiff has, with the flags it takes.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Service } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";
import { REPO, skiff } from "./helpers/cli.js";

const DIR = join(REPO, "docs/deploy");
type Model = { validate(): void };
const MODELS: Record<string, new (data: never) => Model> = {
  "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "v1/Namespace": Namespace,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Service": Service,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: {
    template?: {
      spec: {
        nodeSelector?: Record<string, string>;
        containers: { name: string; args?: string[] }[];
      };
    };
  };
}

function manifests(): { file: string; doc: Manifest }[] {
  const out: { file: string; doc: Manifest }[] = [];
  for (const file of readdirSync(join(DIR, "kubernetes")).filter((f) => f.endsWith(".yaml"))) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, "kubernetes", file), "utf8"))) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      out.push({ file, doc: d.toJS() as Manifest });
    }
  }
  return out;
}

/** The flags `skiff <command> --help` lists. */
async function flagsOf(command: string): Promise<Set<string>> {
  const r = await skiff([command, "--help"]);
  assert.equal(r.code, 0, r.stderr);
  return new Set(r.stdout.match(/--[a-z][a-z-]+/g));
}

describe("deployment files", () => {
  it("are valid Kubernetes objects", () => {
    const all = manifests();
    assert.ok(all.length >= 7, `found ${all.length} objects`);
    for (const { file, doc } of all) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `${file}: ${doc.apiVersion} ${doc.kind} has no model here`);
      assert.doesNotThrow(() => new Model(doc as never).validate(), `${file}: ${doc.kind} ${doc.metadata.name}`);
    }
  });

  it("catch an invalid manifest (the check can fail)", () => {
    const bad = { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "x" }, spec: { template: {} } };
    assert.throws(() => new DaemonSet(bad as never).validate(), /selector/);
  });

  it("run the control plane with --no-local-workers and workers as DaemonSets, GPU ones by node selector", async () => {
    const all = manifests().map((m) => m.doc);
    const server = await flagsOf("server");
    const worker = await flagsOf("worker");
    const cp = all.find((d) => d.kind === "Deployment")!;
    const cpArgs = cp.spec!.template!.spec.containers[0]!.args!;
    assert.equal(cpArgs[0], "server");
    assert.ok(cpArgs.includes("--no-local-workers"));
    for (const a of cpArgs.filter((x) => x.startsWith("--"))) assert.ok(server.has(a), `skiff server has no ${a}`);
    const sets = all.filter((d) => d.kind === "DaemonSet");
    assert.equal(sets.length, 2);
    for (const ds of sets) {
      const args = ds.spec!.template!.spec.containers[0]!.args!;
      assert.equal(args[0], "worker");
      for (const a of args.filter((x) => x.startsWith("--"))) assert.ok(worker.has(a), `skiff worker has no ${a}`);
      assert.equal(args[args.indexOf("--server") + 1], "http://skiff.skiff.svc:7420", "the control plane's Service");
    }
    const gpu = sets.find((d) => d.spec!.template!.spec.containers[0]!.args!.includes("--gpus"))!;
    assert.deepEqual(gpu.spec!.template!.spec.nodeSelector, { "nvidia.com/gpu.present": "true" });
  });

  it("has a systemd unit that runs skiff worker with a token file and restarts it", async () => {
    const unit = readFileSync(join(DIR, "systemd/skiff-worker.service"), "utf8");
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "";
    assert.match(exec, /skiff worker --server \$\{SKIFF_SERVER\} --token-file \/etc\/skiff\/worker\.token/);
    const worker = await flagsOf("worker");
    for (const a of exec.match(/--[a-z][a-z-]+/g) ?? []) assert.ok(worker.has(a), `skiff worker has no ${a}`);
    assert.match(unit, /^Restart=always$/m);
    assert.match(unit, /^\[Install\]\nWantedBy=multi-user\.target$/m);
  });
});
