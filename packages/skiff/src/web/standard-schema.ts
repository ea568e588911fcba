/**
 * The Standard Schema interface (standardschema.dev), declared here so the SDK depends on no
 * validator: zod, valibot, arktype and others implement it through their `~standard` property.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** What a schema produces once it accepted the input. */
export type InferSchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : unknown;

export function isStandardSchema(v: unknown): v is StandardSchemaV1 {
  const s = (v as { "~standard"?: { version?: unknown; validate?: unknown } } | null)?.["~standard"];
  return typeof s === "object" && s !== null && s.version === 1 && typeof s.validate === "function";
}

/** "name: Required; items.0.id: Expected number": each issue with the field it is about. */
export function describeIssues(issues: ReadonlyArray<StandardIssue>): { field: string; message: string }[] {
  return issues.map((i) => ({
    field: (i.path ?? []).map((p) => String(typeof p === "object" && p !== null && "key" in p ? p.key : p)).join("."),
    message: i.message,
  }));
}
