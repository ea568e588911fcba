import type { ClassSpec, ParamSpec, ParamValue } from "@skiff/protocol";
import type { App } from "./app.js";
import { InvalidError } from "./errors.js";
import type { Binding } from "./function.js";
import type { BatchingParams, NormalizedFunctionOptions } from "./function-options.js";

/** What the member decorators of one class recorded. */
export interface Members {
  methods: Map<string, { isGenerator: boolean; batched?: BatchingParams }>;
  enter: string[];
  exit: string[];
  params: string[];
}

/** A class defined with `@app.cls`. */
export interface ClassDef {
  app: App;
  ctor: new () => object;
  name: string;
  options: NormalizedFunctionOptions;
  members: Members;
  /** Set while the app runs (`skiff run`, or inside its containers). */
  binding: Pick<Binding, "client" | "info"> | undefined;
  /** Computed once, by constructing the class (api.md §3). */
  spec: ClassSpec | undefined;
}

const CLASSES = new WeakMap<object, ClassDef>();
/** Keyed by the decorator metadata object the compiler gives every decorator of one class. */
const MEMBERS = new WeakMap<object, Members>();

export function emptyMembers(): Members {
  return { methods: new Map(), enter: [], exit: [], params: [] };
}

/** The members recorded under a class's decorator metadata. */
export function membersFor(metadata: object): Members {
  let m = MEMBERS.get(metadata);
  if (!m) {
    m = emptyMembers();
    MEMBERS.set(metadata, m);
  }
  return m;
}

/** A class's members, its base classes' included (a subclass's metadata inherits from its base's). */
export function collectMembers(metadata: object): Members {
  const chain: Members[] = [];
  for (let o: object | null = metadata; o; o = Object.getPrototypeOf(o) as object | null) {
    const m = MEMBERS.get(o);
    if (m) chain.unshift(m);
  }
  const out = emptyMembers();
  for (const m of chain) {
    for (const [k, v] of m.methods) out.methods.set(k, v);
    for (const k of m.enter) if (!out.enter.includes(k)) out.enter.push(k);
    for (const k of m.exit) if (!out.exit.includes(k)) out.exit.push(k);
    for (const k of m.params) if (!out.params.includes(k)) out.params.push(k);
  }
  return out;
}

export function registerClass(def: ClassDef): void {
  CLASSES.set(def.ctor, def);
}

export function classDefOf(ctor: unknown): ClassDef | undefined {
  return typeof ctor === "function" ? CLASSES.get(ctor) : undefined;
}

function paramType(v: unknown): ParamSpec["type"] | undefined {
  const t = typeof v;
  return t === "string" || t === "number" || t === "boolean" || t === "bigint" ? t : undefined;
}

/** Checks a parameter value: strings, numbers, booleans or bigints only. */
export function isParamValue(v: unknown): v is ParamValue {
  return paramType(v) !== undefined && (typeof v !== "number" || Number.isFinite(v));
}

/**
 * The class's shape: its methods, and its parameters with the types and defaults of their
 * field initialisers, read from one instance constructed here.
 */
export function classSpec(def: ClassDef): ClassSpec {
  if (def.spec) return def.spec;
  let instance: Record<string, unknown>;
  try {
    instance = new def.ctor() as Record<string, unknown>;
  } catch (err) {
    throw new InvalidError(
      `class ${def.name}: constructing it without arguments (to read its @parameter() defaults) threw: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const params: ParamSpec[] = def.members.params.map((name) => {
    const v = instance[name];
    if (v === undefined) return { name, type: "any" as const };
    const type = paramType(v);
    if (!type || !isParamValue(v))
      throw new InvalidError(
        `class ${def.name}: @parameter() ${name} must default to a string, number, boolean or bigint, got ${typeof v}`,
      );
    return { name, type, default: typeof v === "bigint" ? v.toString() : (v as string | number | boolean) };
  });
  def.spec = {
    methods: [...def.members.methods].map(([name, m]) => ({ name, isGenerator: m.isGenerator })),
    params,
  };
  return def.spec;
}

/**
 * Checks instance parameters against a class's schema on the caller's side, so a wrong name or
 * type fails at `instance()` (the server checks again).
 */
export function checkInstanceParams(where: string, schema: ParamSpec[] | undefined, params: unknown): void {
  if (params === null || typeof params !== "object" || Array.isArray(params))
    throw new InvalidError(`${where}: parameters must be an object such as { size: "large" }`);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const spec = schema?.find((p) => p.name === k);
    if (schema && !spec) {
      const have = schema.map((p) => p.name).join(", ") || "none";
      throw new InvalidError(`${where}: unknown parameter "${k}" (its @parameter() fields: ${have})`);
    }
    if (!isParamValue(v))
      throw new InvalidError(`${where}: parameter "${k}" must be a string, number, boolean or bigint`);
    if (spec && spec.type !== "any" && typeof v !== spec.type)
      throw new InvalidError(`${where}: parameter "${k}" must be a ${spec.type}, got ${typeof v}`);
  }
  for (const p of schema ?? []) {
    if (p.default === undefined && (params as Record<string, unknown>)[p.name] === undefined)
      throw new InvalidError(`${where}: parameter "${p.name}" has no default and must be given`);
  }
}
