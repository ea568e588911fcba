// node-html-parser is installed in the image (npmInstall), not in this project: its shape, for tsc.
declare module "node-html-parser" {
  interface HTMLElement {
    text: string;
    getAttribute(name: string): string | undefined;
    querySelector(selector: string): HTMLElement | null;
    querySelectorAll(selector: string): HTMLElement[];
  }
  export function parse(html: string): HTMLElement;
}
