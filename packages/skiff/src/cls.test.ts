import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App } from "./app.js";
import { classSpec } from "./class-def.js";
import { Cls } from "./cls.js";
import { enter, method, parameter } from "./decorators.js";
import { InvalidError } from "./errors.js";

const app = new App("cls-unit");

@app.cls({ maxContainers: 3 })
class Counter {
  @parameter() start: number = 10;
  @parameter() label: string = "c";
  @parameter() big: bigint = 5n;
  loaded = false;

  @enter()
  async load() {
    this.loaded = true;
  }

  @method()
  async add(n: number) {
    return { sum: this.start + n, loaded: this.loaded, label: this.label };
  }

  @method()
  async *each(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
}

describe("classes (SDK side)", () => {
  it("records methods and the parameter schema with defaults", () => {
    const def = app._class("Counter")!;
    assert.deepEqual(classSpec(def), {
      methods: [
        { name: "add", isGenerator: false },
        { name: "each", isGenerator: true },
      ],
      params: [
        { name: "start", type: "number", default: 10 },
        { name: "label", type: "string", default: "c" },
        { name: "big", type: "bigint", default: "5" },
      ],
    });
    const [spec] = app._specs();
    assert.equal(spec!.name, "Counter");
    assert.equal(spec!.options.maxContainers, 3);
  });

  it("local() runs @enter once, then the method, with the instance's parameters", async () => {
    const c = Cls.from(Counter).instance({ start: 1, label: "x" });
    assert.deepEqual(await c.add.local(2), { sum: 3, loaded: true, label: "x" });
    assert.deepEqual(await c.add.local(5), { sum: 6, loaded: true, label: "x" });
  });

  it("checks instance parameters and options at once", () => {
    const C = Cls.from(Counter);
    assert.throws(() => C.instance({ star: 1 } as never), /unknown parameter "star"/);
    assert.throws(() => C.instance({ start: "1" } as never), /parameter "start" must be a number/);
    assert.throws(() => C.instance({ big: 1 } as never), /parameter "big" must be a bigint/);
    assert.throws(() => C.withOptions({ maxContainers: 0 }), /maxContainers must be an integer/);
    assert.throws(() => C.withOptions({ name: "x" } as never), /cannot be changed per variant/);
    const inst = C.instance();
    // An unknown method names the class and lists its methods (what a typo needs).
    assert.throws(
      () => (inst as unknown as Record<string, unknown>).nope,
      /has no @method\(\) "nope" \(it has: add, each\)/,
    );
    assert.equal((inst as unknown as { then?: unknown }).then, undefined, "an instance is not a thenable");
  });

  it("remote on a class of an app that is not running says how to run it", async () => {
    await assert.rejects(Cls.from(Counter).instance().add.remote(1), /not running here/);
  });

  it("refuses classes without methods, and legacy decorators", () => {
    assert.throws(() => {
      @app.cls()
      class Empty {
        x = 1;
      }
      return Empty;
    }, /has no @method\(\) methods/);
    const legacy = method() as unknown as (target: object, key: string, desc: PropertyDescriptor) => void;
    assert.throws(
      () => legacy({}, "m", {}),
      (e: Error) => e instanceof InvalidError && /experimentalDecorators/.test(e.message),
    );
  });
});
