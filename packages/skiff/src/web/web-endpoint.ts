import type { Function_ } from "../function.js";

/**
 * A web endpoint defined by `app.webEndpoint`, `app.fetchApp` or `app.nodeHttpApp`. It is
 * reached over HTTP through the control plane's gateway; it has no `remote` or `map`.
 */
export class WebEndpoint {
  /** Internal: the function that serves its requests. */
  readonly _function: Function_;

  /** Internal: made by the App's web methods. */
  constructor(fn: Function_) {
    this._function = fn;
  }

  /** The endpoint's name (the `name` option, else its export name). */
  get name(): string {
    return this._function.name;
  }

  /**
   * The URL the gateway serves the endpoint at, such as `http://my-app--hello.localhost:7420`
   * (an ephemeral app's ends its first label in "-dev"). Known while the app runs or is deployed.
   * @throws InvalidError if the endpoint's app is not running here.
   */
  getWebUrl(): Promise<string> {
    return this._function._webUrl();
  }
}
