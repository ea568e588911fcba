import { request } from "node:http";
import { skiff, startServer } from "./helpers/cli.js";

const server = await startServer({ args: ["--web-wait-ms", "20000"] });
const d = await skiff(["deploy", "test/fixtures/fidelity-app.ts"], { env: server.env });
console.log(d.code, d.stderr.slice(-300));
const port = new URL(server.url).port;
const post = (label: string, path: string) =>
  new Promise<string>((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: `/web/fidelity/${label}${path}`,
        method: "POST",
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => resolve(`${res.statusCode} ${b}`));
      },
    );
    req.write('{"a":');
    setTimeout(() => req.end("1}"), 50);
  });
console.log(await post("express", "/json"));
console.log(await post("koa", "/json"));
const l = await skiff(["app", "logs", "fidelity"], { env: server.env });
console.log(l.stdout.slice(-3000), l.stderr);
await server.stop();
