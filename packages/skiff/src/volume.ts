import { InvalidError } from "./errors.js";

/**
 * A named, persistent file system to mount into containers. Mounting volumes is not
 * supported yet: naming one in a function's `volumes` is a clear error at definition.
 */
export class Volume {
  private constructor(
    readonly name: string,
    readonly createIfMissing: boolean,
  ) {}

  static fromName(name: string, options: { createIfMissing?: boolean } = {}): Volume {
    if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw new InvalidError(`Volume.fromName: invalid volume name ${JSON.stringify(name)}`);
    }
    return new Volume(name, options.createIfMissing ?? false);
  }
}
