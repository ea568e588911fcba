import { readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import type { Profile } from "../config.js";
import { InvalidError } from "../errors.js";

/** `~/.skiff.toml` (SKIFF_CONFIG_PATH is handled by the caller). */
export function configPath(env: Record<string, string | undefined>): string {
  return join(env.HOME || homedir(), ".skiff.toml");
}

export async function readProfiles(file: string): Promise<Record<string, Profile>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  try {
    return parse(text) as Record<string, Profile>;
  } catch (err) {
    throw new InvalidError(`cannot parse ${file}: ${(err as Error).message}`);
  }
}

/** Writes (or replaces) one profile; with `activate`, makes it the only active one. */
export async function writeProfile(file: string, name: string, profile: Profile, activate: boolean): Promise<void> {
  const profiles = await readProfiles(file);
  if (activate) for (const p of Object.values(profiles)) delete p.active;
  profiles[name] = { ...profile, ...(activate ? { active: true } : {}) };
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${stringify(profiles)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
