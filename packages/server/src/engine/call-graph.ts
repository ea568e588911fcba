import type { InputInfo } from "@skiff/protocol";
import type { GraphRow, Store } from "../store/store.js";

/**
 * The call graph of a call (api.md §6): its inputs, each with the calls made while it ran,
 * as trees. Bounded: at most `maxNodes` inputs and a depth of 64. Empty when the call has no
 * recorded inputs (plain top-level `.remote`/`map` calls are not recorded).
 */
export async function buildCallGraph(store: Store, callId: string, maxNodes = 10_000): Promise<InputInfo[]> {
  let budget = maxNodes;
  const build = async (rows: GraphRow[], depth: number): Promise<InputInfo[]> => {
    const out: InputInfo[] = [];
    for (const r of rows.slice(0, Math.max(0, budget))) {
      budget--;
      out.push({
        inputId: r.inputId,
        functionCallId: r.functionCallId,
        functionName: r.functionName,
        taskId: r.taskId ?? "",
        status: r.status,
        children: depth < 64 && budget > 0 ? await build(await store.graphChildren(r.inputId), depth + 1) : [],
      });
    }
    return out;
  };
  return build(await store.graphInputsOfCall(callId), 0);
}
