// The Node apps of bench/web-node.ts, served both through Skiff (bench/apps/web-node.ts) and
// directly (bench/lib/node-direct.ts): an Express JSON echo and a `ws` echo server.
import { createServer, type Server } from "node:http";
import express from "express";
import { WebSocketServer } from "ws";

/** POST /echo: the JSON body parsed by express.json() and sent back. */
export function expressEcho() {
  const app = express();
  app.use(express.json());
  app.post("/echo", (req, res) => {
    res.json(req.body);
  });
  return app;
}

/** A WebSocket echo server on an http.Server that is not listening (Skiff emits its events). */
export function wsEcho(): Server {
  const server = createServer((_req, res) => {
    res.end("ws echo");
  });
  new WebSocketServer({ server, perMessageDeflate: false }).on("connection", (ws) => {
    ws.on("message", (m, isBinary) => ws.send(m, { binary: isBinary }));
  });
  return server;
}
