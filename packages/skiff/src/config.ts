import { InvalidError } from "./errors.js";
import { needNode, nodeCapabilities } from "./platform.js";

/**
 * Client configuration: environment variables first, then the active profile of
 * `~/.skiff.toml` (or `SKIFF_CONFIG_PATH`, profile `SKIFF_PROFILE`). The file is read by the
 * `node` entry (node/config-file.ts): where there is none (browsers, workerd), configuration
 * comes from the environment object given, or explicitly (`new Client({ … })`).
 */

export interface ClientConfig {
  /** `http://host:port` of the control plane, or `unix:/path/to.sock`. */
  serverUrl: string;
  tokenId: string;
  tokenSecret: string;
  environment: string;
  /** A PEM file of the CA that signed an https server's certificate (SKIFF_CA_FILE, profile `ca_file`). */
  caFile?: string;
}

export interface Profile {
  server_url?: string;
  token_id?: string;
  token_secret?: string;
  environment?: string;
  ca_file?: string;
  active?: boolean;
}

export const DEFAULT_ENVIRONMENT = "main";

type Env = Record<string, string | undefined>;

const CONFIGURE_EXPLICITLY =
  "configure the client explicitly, new Client({ serverUrl, tokenId, tokenSecret, environment }), or with Client.fromEnv(env)";

function processEnv(): Env {
  const p = (globalThis as { process?: { env?: Env } }).process;
  return p?.env ?? {};
}

export async function configPath(env: Env = processEnv()): Promise<string> {
  if (env.SKIFF_CONFIG_PATH) return env.SKIFF_CONFIG_PATH;
  return needNode("finding ~/.skiff.toml").configPath(env);
}

export async function readProfiles(file: string): Promise<Record<string, Profile>> {
  return needNode(`reading ${file}`, CONFIGURE_EXPLICITLY).readProfiles(file);
}

/** Picks the profile named by SKIFF_PROFILE, else the one marked active, else the only one. */
export function activeProfile(
  profiles: Record<string, Profile>,
  env: Env = processEnv(),
): [string, Profile] | undefined {
  const names = Object.keys(profiles);
  if (env.SKIFF_PROFILE) {
    const p = profiles[env.SKIFF_PROFILE];
    if (!p)
      throw new InvalidError(
        `SKIFF_PROFILE=${env.SKIFF_PROFILE} names no profile (have: ${names.join(", ") || "none"})`,
      );
    return [env.SKIFF_PROFILE, p];
  }
  const active = names.find((n) => profiles[n]?.active);
  if (active) return [active, profiles[active]!];
  if (names.length === 1) return [names[0]!, profiles[names[0]!]!];
  if (profiles.default) return ["default", profiles.default];
  return undefined;
}

/** The configuration a client would use now, or undefined if no server is configured. */
export async function loadConfig(env: Env = processEnv()): Promise<ClientConfig | undefined> {
  return (await findConfig(env))?.config;
}

/**
 * The configuration and where it came from (`SKIFF_SERVER_URL`, or `profile "x" in <file>`),
 * for errors that must say which setting to fix. `file: false` reads only `env` (a Worker's env
 * object), which `where` names in errors.
 */
export async function findConfig(
  env: Env = processEnv(),
  opts: { file?: boolean; where?: string } = {},
): Promise<{ config: ClientConfig; source: string } | undefined> {
  let profile: Profile = {};
  let profileSource = "";
  const needsFile = !(env.SKIFF_SERVER_URL && env.SKIFF_TOKEN_ID && env.SKIFF_TOKEN_SECRET);
  // No file system (the portable entry): the environment given is all there is.
  if (needsFile && opts.file !== false && nodeCapabilities()) {
    const file = await configPath(env);
    const picked = activeProfile(await readProfiles(file), env);
    if (picked) {
      profile = picked[1];
      profileSource = `profile "${picked[0]}" in ${file}`;
    }
  }
  const serverUrl = env.SKIFF_SERVER_URL || profile.server_url;
  if (!serverUrl) return undefined;
  const inEnv = opts.where ? ` of ${opts.where}` : "";
  const source = env.SKIFF_SERVER_URL ? `SKIFF_SERVER_URL${inEnv}` : profileSource;
  checkServerUrl(serverUrl, env.SKIFF_SERVER_URL ? source : `server_url of ${source}`);
  const tokenId = env.SKIFF_TOKEN_ID || profile.token_id;
  const tokenSecret = env.SKIFF_TOKEN_SECRET || profile.token_secret;
  if (!tokenId || !tokenSecret) {
    throw new InvalidError(
      `a server is configured (${serverUrl}, from ${source}) but no token: set SKIFF_TOKEN_ID and SKIFF_TOKEN_SECRET${inEnv}${opts.file === false ? "" : ", or run `skiff token new`"}`,
    );
  }
  return {
    config: {
      serverUrl,
      tokenId,
      tokenSecret,
      environment: env.SKIFF_ENVIRONMENT || profile.environment || DEFAULT_ENVIRONMENT,
      ...(env.SKIFF_CA_FILE || profile.ca_file ? { caFile: (env.SKIFF_CA_FILE || profile.ca_file) as string } : {}),
    },
    source,
  };
}

/**
 * A server URL is `http(s)://host[:port][/path]` or `unix:/path`; anything else is named at once,
 * with the setting it came from (`SKIFF_SERVER_URL`, `server_url of profile "x" in <file>`).
 */
export function checkServerUrl(url: string, setting: string): void {
  const bad = (why: string) =>
    new InvalidError(
      `${setting} is ${JSON.stringify(url)}, ${why}: expected http://host:port, https://host:port or unix:/path/to.sock`,
    );
  if (url.startsWith("unix:")) {
    if (url.length <= 5) throw bad("with no socket path");
    return;
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw bad("which has no http:// or https://");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad("not a URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw bad(`whose scheme ${u.protocol.slice(0, -1)} is not http or https`);
  if (!u.hostname) throw bad("with no host");
  if (u.search || u.hash || u.username) throw bad("with a query, fragment or user name");
}

/** Writes (or replaces) one profile; with `activate`, makes it the only active one. */
export async function writeProfile(file: string, name: string, profile: Profile, activate: boolean): Promise<void> {
  return needNode(`writing ${file}`).writeProfile(file, name, profile, activate);
}
