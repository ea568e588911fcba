// Seed flow 1: an app deployed once and called by name from other programs.
//   npx skiff deploy examples/shared-app.ts
//   node examples/client.mjs
import { App } from "skiff";

export const app = new App("my-shared-app");

export const square = app.function(async (x: number) => x ** 2);
