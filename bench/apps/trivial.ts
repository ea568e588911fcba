// The functions the benchmarks call: as small as a function can be.
import { App } from "skiff";

export const app = new App("bench");

export const square = app.function(async (x: number) => x * x);
