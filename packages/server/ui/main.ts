import type { SessionInfo } from "@skiff/protocol";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { session, signIn, signOut } from "./api.js";
import { html } from "./html.js";
import { connect, disconnect, useLive } from "./live.js";
import { AppPage, AppsPage } from "./pages/apps.js";
import { CallPage } from "./pages/call.js";
import { CallsPage } from "./pages/calls.js";
import { ContainerPage, ContainersPage } from "./pages/containers.js";
import { FunctionsPage } from "./pages/functions.js";
import { LogsPage } from "./pages/logs.js";
import { ObjectPage, ObjectsPage } from "./pages/objects.js";
import { href, useRoute } from "./router.js";

const NAV: [string, string][] = [
  ["apps", "Apps"],
  ["functions", "Functions"],
  ["calls", "Calls"],
  ["containers", "Containers"],
  ["logs", "Logs"],
  ["objects", "Objects"],
];

function SignIn(props: { onIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      props.onIn(await signIn(token));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit}>
      <h1 class="brand">Skiff</h1>
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="off" placeholder="tk-…:ts-…"
        value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      <p class="hint">An API or admin token: <code>${"<token id>:<token secret>"}</code>, from <code>skiff token new</code> or the server's first start.</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy || !token}>Sign in</button>
    </form>
  </main>`;
}

function Page() {
  const r = useRoute();
  const [first, id] = r.path;
  switch (first ?? "functions") {
    case "apps":
      return id ? html`<${AppPage} id=${id} />` : html`<${AppsPage} />`;
    case "calls":
      return id ? html`<${CallPage} id=${id} />` : html`<${CallsPage} query=${r.query} />`;
    case "containers":
      return id ? html`<${ContainerPage} id=${id} />` : html`<${ContainersPage} />`;
    case "logs":
      return html`<${LogsPage} query=${r.query} />`;
    case "objects": {
      const oid = r.path[2];
      return id && oid
        ? html`<${ObjectPage} key=${`${id}/${oid}/${r.query}`} kind=${id} id=${oid} query=${r.query} />`
        : html`<${ObjectsPage} />`;
    }
    default:
      return html`<${FunctionsPage} />`;
  }
}

function Shell(props: { session: SessionInfo; onOut: () => void }) {
  const r = useRoute();
  const live = useLive();
  const here = r.path[0] ?? "functions";
  return html`<div class="shell">
    <header>
      <a class="brand" href="#/functions">Skiff</a>
      <nav>${NAV.map(([p, label]) => html`<a href=${href(p)} class=${here === p ? "active" : ""}>${label}</a>`)}</nav>
      <span class=${`dot ${live.connected ? "on" : "off"}`} title=${live.connected ? "live" : "reconnecting"}></span>
      <button class="link" onClick=${props.onOut}>Sign out</button>
    </header>
    <main><${Page} /></main>
  </div>`;
}

function Root() {
  const [s, setS] = useState<SessionInfo | undefined | null>(null);
  useEffect(() => {
    session().then(setS, () => setS(undefined));
  }, []);
  useEffect(() => {
    if (s) connect();
    else disconnect();
  }, [s]);
  if (s === null) return html`<p class="loading">Loading…</p>`;
  if (!s) return html`<${SignIn} onIn=${setS} />`;
  const out = async () => {
    await signOut();
    setS(undefined);
  };
  return html`<${Shell} session=${s} onOut=${out} />`;
}

render(html`<${Root} />`, document.getElementById("root")!);
