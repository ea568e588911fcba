import { InvalidError } from "./errors.js";

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A set of environment variables for a function's containers: named (created with
 * `skiff secret create`, resolved by the control plane) or inline.
 */
export class Secret {
  private constructor(
    /** Set for named secrets. */
    readonly name: string | undefined,
    /** Set for inline secrets. Never printed. */
    readonly _values: Readonly<Record<string, string>> | undefined,
  ) {}

  static fromName(name: string): Secret {
    if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw new InvalidError(`Secret.fromName: invalid secret name ${JSON.stringify(name)}`);
    }
    return new Secret(name, undefined);
  }

  static fromObject(values: Record<string, string>): Secret {
    if (values === null || typeof values !== "object")
      throw new InvalidError("Secret.fromObject: expected an object of strings");
    for (const [k, v] of Object.entries(values)) {
      if (!ENV_KEY.test(k))
        throw new InvalidError(`Secret.fromObject: ${JSON.stringify(k)} is not a valid environment variable name`);
      if (typeof v !== "string") throw new InvalidError(`Secret.fromObject: value of ${k} must be a string`);
    }
    return new Secret(undefined, Object.freeze({ ...values }));
  }

  toString(): string {
    return this.name ? `Secret(${this.name})` : "Secret(<inline>)";
  }

  toJSON(): string {
    return this.toString();
  }
}

export { ENV_KEY };
