import type { InputInfo } from "@skiff/protocol";
import type { GraphRow, Store } from "../store/store.js";

/**
 * The call graph of a call (api.md §6): its inputs, each with the calls made while it ran,
 * as trees. Bounded: at most `maxNodes` inputs and a depth of 64. Empty when the call has no
 * recorded inputs (plain top-level `.remote`/`map` calls are not recorded).
 */
export function buildCallGraph(store: Store, callId: string, maxNodes = 10_000): InputInfo[] {
  let budget = maxNodes;
  const build = (rows: GraphRow[], depth: number): InputInfo[] =>
    rows.slice(0, Math.max(0, budget)).map((r) => {
      budget--;
      return {
        inputId: r.inputId,
        functionCallId: r.functionCallId,
        functionName: r.functionName,
        taskId: r.taskId ?? "",
        status: r.status,
        children: depth < 64 && budget > 0 ? build(store.graphChildren(r.inputId), depth + 1) : [],
      };
    });
  return build(store.graphInputsOfCall(callId), 0);
}
