// The smallest Skiff app: `npx skiff run examples/quickstart.ts`.
import { App } from "skiff";

export const app = new App("quickstart");

export const square = app.function(async (x: number) => {
  console.log(`squaring ${x} in a container`);
  return x ** 2;
});

app.localEntrypoint(async () => {
  console.log("square(42) =", await square.remote(42));
});
