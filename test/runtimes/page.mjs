// A browser page: configuration from the URL's fragment, Client.setDefault, then the calls.
import * as skiff from "skiff";
import { callAll, describeError } from "./calls.mjs";

const out = document.getElementById("out");
try {
  skiff.Client.setDefault(new skiff.Client(JSON.parse(decodeURIComponent(location.hash.slice(1)))));
  out.dataset.result = JSON.stringify(await callAll(skiff, undefined));
} catch (e) {
  out.dataset.error = describeError(e);
}
out.dataset.done = "1";
