import { hostname } from "node:os";
import { type ContainerInfo, type EventMap, type ExecSpec, newId } from "@skiff/protocol";
import type { Engine } from "../engine/engine.js";
import type { ContainerView } from "../engine/model.js";
import { ApiError, invalid, notFound } from "./api-error.js";
import type { Peer } from "./peer.js";

/** Commands one connection may run at once (a terminal each, usually one). */
const MAX_EXECS_PER_PEER = 16;

interface ExecSession {
  id: string;
  peer: Peer;
  container: ContainerView;
  /** Set for `skiff shell`: the container was started for this command and goes with it. */
  ownsContainer: boolean;
  ended: boolean;
  cleanup: () => void;
}

/**
 * Relays commands between a client and a container (`skiff container exec`, `skiff shell`):
 * the client's input, resizes and acknowledgements go to the container, the command's output
 * and exit come back. Each exec belongs to the connection that started it; when that closes,
 * the command is killed (and a shell's container removed). When the container goes, the exec
 * ends with an error. Flow control is end to end (exec.ack), so nothing queues here.
 */
export class ExecRelay {
  private readonly sessions = new Map<string, ExecSession>();

  constructor(private readonly engine: Engine) {
    engine.onContainerGone((c, why) => {
      for (const s of [...this.sessions.values()]) {
        if (s.container === c) this.end(s, { execId: s.id, code: null, error: `the container stopped (${why})` });
      }
    });
  }

  /** Running containers of an environment. */
  list(environment: string): ContainerInfo[] {
    const out: ContainerInfo[] = [];
    for (const c of this.engine.containers()) {
      if (c.fn.environment !== environment || c.status === "dead") continue;
      out.push({
        containerId: c.id,
        appId: c.fn.appId,
        appName: c.fn.appName,
        functionId: c.fn.id,
        functionName: c.fn.name,
        host: c.host && c.host !== "local" ? `worker:${c.host}` : `local:${hostname()}`,
        state: c.reserved ? "shell" : c.status,
        startedAt: c.startedAt,
        inputs: c.running.size,
      });
    }
    return out.sort((a, b) => a.startedAt - b.startedAt);
  }

  /** A running container, by id. @throws ApiError not_found */
  container(containerId: string): ContainerView {
    const c = this.engine.container(containerId);
    if (!c || c.status === "dead")
      throw notFound(`no running container ${containerId}: \`skiff container list\` shows the running ones`);
    return c;
  }

  /** Runs a command in a running container. */
  exec(peer: Peer, containerId: string, spec: ExecSpec): { execId: string } {
    const c = this.container(containerId);
    if (c.status !== "ready" || !c.channel)
      throw new ApiError("failed_precondition", `container ${containerId} is ${c.status}: try again once it is ready`);
    return { execId: this.startExec(peer, c, spec, false) };
  }

  /** Starts a container of the function for a shell, runs the command in it, removes it after. */
  async shell(peer: Peer, functionId: string, spec: ExecSpec): Promise<{ execId: string; containerId: string }> {
    const fn = this.engine.functionView(functionId);
    if (!fn?.live) throw notFound(`function ${functionId} is not running`);
    if (fn.spec.web)
      throw invalid(
        `${fn.appName}.${fn.name} is a web endpoint: skiff shell opens a shell in a function's container; pick a function (or class) of the app`,
      );
    this.checkPeer(peer);
    const c = await this.engine.startReserved(fn.id);
    if (!peer.isOpen) {
      this.engine.killContainer(c.id, "its shell's client left before it started");
      throw new ApiError("cancelled", "the connection closed");
    }
    return { execId: this.startExec(peer, c, spec, true), containerId: c.id };
  }

  private checkPeer(peer: Peer): void {
    let n = 0;
    for (const s of this.sessions.values()) if (s.peer === peer) n++;
    if (n >= MAX_EXECS_PER_PEER) throw invalid(`at most ${MAX_EXECS_PER_PEER} commands per connection at once`);
  }

  private startExec(peer: Peer, c: ContainerView, spec: ExecSpec, ownsContainer: boolean): string {
    this.checkPeer(peer);
    const id = newId("ex");
    const s: ExecSession = { id, peer, container: c, ownsContainer, ended: false, cleanup: () => {} };
    s.cleanup = () => {
      if (s.ended) return;
      c.channel?.send("exec.kill", { execId: id });
      this.end(s, undefined);
    };
    this.sessions.set(id, s);
    peer.cleanups.add(s.cleanup);
    c.channel!.send("exec.start", { execId: id, ...spec });
    return id;
  }

  private end(s: ExecSession, exit: EventMap["exec.exit"] | undefined): void {
    if (s.ended) return;
    s.ended = true;
    this.sessions.delete(s.id);
    s.peer.cleanups.delete(s.cleanup);
    if (exit) s.peer.send("exec.exit", exit);
    if (s.ownsContainer) this.engine.killContainer(s.container.id, "its shell ended");
  }

  /** An event of a client about one of its execs. */
  fromClient(peer: Peer, name: "exec.input" | "exec.resize" | "exec.ack" | "exec.kill", body: unknown): void {
    const b = body as { execId?: unknown };
    const s = typeof b?.execId === "string" ? this.sessions.get(b.execId) : undefined;
    if (!s || s.peer !== peer) return; // ended meanwhile, or not this connection's
    s.container.channel?.send(name, body as never);
  }

  /** An event of a container about one of its execs. */
  fromContainer(containerId: string, name: "exec.output" | "exec.exit" | "exec.ack", body: unknown): void {
    const b = body as { execId?: unknown };
    const s = typeof b?.execId === "string" ? this.sessions.get(b.execId) : undefined;
    if (!s || s.container.id !== containerId) return;
    if (name === "exec.exit") this.end(s, body as EventMap["exec.exit"]);
    else s.peer.send(name, body as never);
  }
}
