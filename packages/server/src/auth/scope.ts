import { ApiError } from "../api/api-error.js";
import type { Principal } from "./tokens.js";

/**
 * What a scoped API token may reach (`skiff token new --environment E [--apps a,b]`): one
 * environment, and within it, where `apps` is set, only those apps (by name), which it may
 * call, deploy and stop; such a token reads the environment's named objects but writes none.
 */
export interface TokenScope {
  environment: string;
  apps?: ReadonlySet<string>;
}

/** "environment \"dev\"" or "apps a, b of environment \"dev\"". */
export function describeScope(s: TokenScope): string {
  return s.apps ? `apps ${[...s.apps].join(", ")} of environment "${s.environment}"` : `environment "${s.environment}"`;
}

function denied(p: Principal, s: TokenScope, what: string): ApiError {
  return new ApiError("permission_denied", `token ${p.tokenId} is scoped to ${describeScope(s)}: it cannot ${what}`);
}

/** @throws permission_denied when a scoped token names another environment. */
export function checkEnvironment(p: Principal, environment: string): void {
  const s = p.scope;
  if (s && environment !== s.environment) throw denied(p, s, `reach environment "${environment}"`);
}

/** @throws permission_denied when a scoped token names an app (or environment) outside its scope. */
export function checkApp(p: Principal, environment: string, appName: string, action: string): void {
  const s = p.scope;
  if (!s) return;
  checkEnvironment(p, environment);
  if (s.apps && !s.apps.has(appName)) throw denied(p, s, `${action} app "${appName}"`);
}

/** @throws permission_denied when an app-scoped token would write a named object (or a secret). */
export function checkWrite(p: Principal, what: string): void {
  const s = p.scope;
  if (s?.apps) throw denied(p, s, `${what}: it reads the environment's objects but writes none`);
}

/** @throws permission_denied for any scoped token (what only unscoped tokens may do). */
export function checkUnscoped(p: Principal, what: string): void {
  const s = p.scope;
  if (s) throw denied(p, s, what);
}

/** Whether an app-scoped token sees this app (lists are filtered to its apps). */
export function seesApp(p: Principal, appName: string): boolean {
  return !p.scope?.apps || p.scope.apps.has(appName);
}
