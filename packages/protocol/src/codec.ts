import { addExtension, Encoder } from "cbor-x";

/** Tag for Skiff's encoding of an Error (name, message, stack, cause, own props). */
const ERROR_TAG = 40501;

interface WireError {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  props?: Record<string, unknown>;
}

/**
 * JavaScript's own error classes, rebuilt as themselves so that `instanceof TypeError` works on
 * the other side (api.md §2: only custom classes come back as Error with their name).
 */
const BUILTIN_ERRORS: Record<string, ErrorConstructor> = {
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

addExtension({
  Class: Error,
  tag: ERROR_TAG,
  encode(err: Error, encode: (value: unknown) => Uint8Array) {
    const wire: WireError = { name: err.name, message: err.message };
    if (err.stack !== undefined) wire.stack = err.stack;
    if ("cause" in err && err.cause !== undefined) wire.cause = err.cause;
    // Own enumerable fields (e.g. `code`) travel too; they are plain data by contract.
    const props: Record<string, unknown> = {};
    let any = false;
    for (const key of Object.keys(err)) {
      if (key === "cause" || key === "name" || key === "message" || key === "stack") continue;
      props[key] = (err as unknown as Record<string, unknown>)[key];
      any = true;
    }
    // An AggregateError's `errors` is an own but non-enumerable field: sent, it is what the error says.
    if (err instanceof AggregateError && Array.isArray(err.errors)) {
      props.errors = err.errors;
      any = true;
    }
    if (any) wire.props = props;
    return encode(wire);
  },
  decode(data: WireError) {
    const options = data.cause === undefined ? undefined : { cause: data.cause };
    const name = String(data.name);
    const Builtin = Object.hasOwn(BUILTIN_ERRORS, name) ? BUILTIN_ERRORS[name] : undefined;
    const err =
      name === "AggregateError"
        ? new AggregateError(Array.isArray(data.props?.errors) ? data.props.errors : [], data.message, options)
        : new (Builtin ?? Error)(data.message, options);
    if (name === "AggregateError" && data.props) {
      const { errors: _, ...rest } = data.props;
      data.props = rest;
    }
    Object.defineProperty(err, "name", {
      value: String(data.name),
      writable: true,
      configurable: true,
    });
    if (data.stack !== undefined) err.stack = data.stack;
    if (data.props) Object.assign(err, data.props);
    return err;
  },
});

/**
 * One CBOR codec for envelopes and payloads alike. Maps are tagged (259) so that a decoded
 * plain object stays a plain object and a Map stays a Map; typed arrays keep their type.
 */
export const cbor = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: true,
  largeBigIntToFloat: false,
  // Not in cbor-x's typings, but honoured: tag Maps so they decode as Maps.
  ...({ useTag259ForMaps: true } as object),
});

export function encodeCbor(value: unknown): Uint8Array {
  return cbor.encode(value);
}

export function decodeCbor(bytes: Uint8Array): unknown {
  return cbor.decode(bytes);
}
