// The lifecycle class of the seed: `@enter` runs once per container before its first input,
// and every input served by that container sees what it set.
//   skiff deploy examples/lifecycle-app.ts && node examples/lifecycle-client.mjs
import { App, enter, method } from "skiff";

export const app = new App("lifecycle-app");

@app.cls()
export class Lifecycle {
  var = "";

  @enter()
  setup() {
    this.var = "hello world";
  }

  @method()
  async foo() {
    return this.var;
  }
}
