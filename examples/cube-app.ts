// Seed flow 2: a second app that calls a function of the first one by name.
//   npx skiff deploy examples/shared-app.ts
//   npx skiff run examples/cube-app.ts
import { App, Function_ } from "skiff";
import type { square as Square } from "./shared-app.js";

export const app = new App("cube-app");

const square = Function_.fromName<typeof Square>("my-shared-app", "square");

export const cube = app.function(async (x: number) => x * (await square.remote(x)));

app.localEntrypoint(async () => {
  console.log("cube(3) =", await cube.remote(3));
});
