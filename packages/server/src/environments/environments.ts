import { ApiError, invalid, notFound } from "../api/api-error.js";
import type { Store } from "../store/store.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Environments (api.md §9): apps, deployments, secrets and named objects live in one; "main"
 * always exists. What is created in an environment must name one that exists, so a mistyped
 * SKIFF_ENVIRONMENT fails at once instead of deploying somewhere nobody looks. The names are
 * held in memory (a few, made by admins), read from the store once.
 */
export class Environments {
  private names: Promise<Set<string>> | undefined;

  constructor(private readonly store: Store) {}

  private known(): Promise<Set<string>> {
    if (!this.names) {
      const loading = this.store.listEnvironments().then((rows) => new Set(rows.map((r) => r.name)));
      this.names = loading;
      loading.catch(() => {
        if (this.names === loading) this.names = undefined; // the store was down: read again next time
      });
    }
    return this.names;
  }

  /** @throws not_found naming the command that creates it. */
  async require(name: string): Promise<void> {
    if ((await this.known()).has(name)) return;
    throw notFound(
      `environment ${JSON.stringify(name)} does not exist: create it with \`skiff environment create ${name}\` (\`skiff environment list\` shows them)`,
    );
  }

  async create(name: string): Promise<void> {
    if (!NAME.test(name))
      throw invalid(
        `environment name ${JSON.stringify(name)} is invalid: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64`,
      );
    const names = await this.known();
    if (names.has(name)) throw new ApiError("already_exists", `environment "${name}" already exists`);
    // Known before the commit, so a second create racing this one is told it exists (the
    // insert ignores a duplicate too: a failed commit would lose its window's other writes).
    names.add(name);
    this.store.insertEnvironment({ name, createdAt: Date.now() });
    try {
      await this.store.flush();
    } catch (err) {
      names.delete(name);
      throw err;
    }
  }

  async list(): Promise<{ name: string; createdAt: number }[]> {
    return this.store.listEnvironments();
  }

  /** Refused for "main" and while anything lives in it: nothing in it is deleted with it. */
  async delete(name: string): Promise<void> {
    if (name === "main") throw new ApiError("failed_precondition", `environment "main" cannot be deleted`);
    const names = await this.known();
    if (!names.has(name)) throw notFound(`no environment "${name}" (\`skiff environment list\` shows them)`);
    const c = await this.store.environmentContents(name);
    if (c.apps + c.objects + c.secrets > 0) {
      const held = [
        c.apps
          ? `${c.apps} running app${c.apps === 1 ? "" : "s"} (\`skiff app list --env ${name}\`, \`skiff app stop NAME --env ${name}\`)`
          : "",
        c.objects
          ? `${c.objects} object${c.objects === 1 ? "" : "s"} (\`skiff dict|queue|volume list --env ${name}\`, then \`… delete NAME --env ${name}\`)`
          : "",
        c.secrets ? `${c.secrets} secret${c.secrets === 1 ? "" : "s"} (\`skiff secret list --env ${name}\`)` : "",
      ].filter(Boolean);
      throw new ApiError(
        "failed_precondition",
        `environment "${name}" still holds ${held.join(", ")}: stop or delete them first, then delete the environment`,
      );
    }
    this.store.deleteEnvironment(name);
    await this.store.flush();
    names.delete(name);
  }
}
