import type { SessionInfo } from "@skiff/protocol";

/** The anti-forgery token of this sign-in: every write sends it (a cookie alone writes nothing). */
let csrf = "";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function parse<T>(r: Response): Promise<T> {
  const text = await r.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(r.status, text.slice(0, 200) || r.statusText);
  }
  if (!r.ok) {
    const msg = (body as { error?: { message?: string } } | undefined)?.error?.message ?? r.statusText;
    throw new ApiError(r.status, msg);
  }
  return body as T;
}

/** A read of the JSON API (the session cookie goes along). */
export async function get<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } }));
}

/** A write: the session cookie and its anti-forgery header. */
export async function post<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { method: "POST", credentials: "same-origin", headers: { "x-skiff-csrf": csrf } }));
}

export async function session(): Promise<SessionInfo | undefined> {
  try {
    const s = await get<SessionInfo>("/dashboard/session");
    csrf = s.csrfToken;
    return s;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return undefined;
    throw err;
  }
}

export async function signIn(token: string): Promise<SessionInfo> {
  const r = await fetch("/dashboard/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const s = await parse<SessionInfo>(r);
  csrf = s.csrfToken;
  return s;
}

export async function signOut(): Promise<void> {
  await fetch("/dashboard/session", {
    method: "DELETE",
    credentials: "same-origin",
    headers: { "x-skiff-csrf": csrf },
  });
  csrf = "";
}
