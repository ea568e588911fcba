// Seed 000's scraper, in an image: an HTML parser from npm and the pages to parse, carried into
// the image by addLocalDir, parsed by a function mapped over them.
//
//   npx skiff run examples/scraper/app.ts
//
// The first run builds the image (Debian, then npm install; minutes), later runs find every
// layer cached.
import { App, Image } from "skiff";

const image = Image.debianSlim().npmInstall("node-html-parser@6.1.13").addLocalDir("./pages", "/srv/pages"); // relative to this file

export const app = new App("scraper");

export const getLinks = app.function({ image }, async (page: string) => {
  // Installed in the image only: imported inside the function (nothing to install locally).
  const { parse } = await import("node-html-parser");
  const { readFile } = await import("node:fs/promises");
  const root = parse(await readFile(`/srv/pages/${page}`, "utf8"));
  return {
    page,
    title: root.querySelector("title")?.text ?? "",
    links: root.querySelectorAll("a").map((a) => a.getAttribute("href") ?? ""),
  };
});

app.localEntrypoint(async () => {
  for await (const { page, title, links } of getLinks.map(["index.html", "boats.html", "tides.html"])) {
    console.log(`${page} (${title}): ${links.join(" ")}`);
  }
});
