import htm from "htm";
import { h } from "preact";

/** Tagged templates instead of JSX: no JSX transform to configure, and the bundle stays one step. */
export const html = htm.bind(h);
