import { ui } from "./output.js";

/** Prints each web endpoint's URL in both forms (the path form needs no name resolution at all). */
export function printWebUrls(serverUrl: string, functions: { name: string; webUrl?: string }[]): void {
  const web = functions.filter((f) => f.webUrl);
  if (web.length === 0) return;
  ui.out("Web endpoints:");
  for (const f of web) ui.out(`  ${f.name}: ${f.webUrl}  (or ${pathForm(serverUrl, f.webUrl!)})`);
}

/** `http://app--label.localhost:7420` → `<server>/web/app/label` (labels never hold "--"). */
export function pathForm(serverUrl: string, url: string): string {
  const sub = new URL(url).hostname.split(".")[0]!;
  const i = sub.lastIndexOf("--");
  return `${new URL(serverUrl).origin}/web/${sub.slice(0, i)}/${sub.slice(i + 2)}`;
}
