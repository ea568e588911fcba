// The map a user writes without tuning (issue 16 item 2): default options but maxContainers 2,
// so each container runs one input at a time (maxInputs 1).
import { App } from "skiff";

export const app = new App("bench-map-default");

export const square = app.function({ maxContainers: 2 }, async (x: number) => x * x);
