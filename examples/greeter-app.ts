// A class with a parameter, called from any language through the JSON HTTP API (docs/web.md):
//   skiff deploy examples/greeter-app.ts
//   curl -X POST -H "Authorization: Bearer $SKIFF_TOKEN_ID:$SKIFF_TOKEN_SECRET" \
//     -d '{"params": {"greeting": "hi"}, "args": ["Ada"]}' \
//     http://127.0.0.1:7420/v1/functions/greeter/Greeter.greet/call
import { App, method, parameter } from "skiff";

export const app = new App("greeter");

@app.cls()
export class Greeter {
  @parameter() greeting: string = "hello";

  @method()
  async greet(name: string) {
    return `${this.greeting}, ${name}!`;
  }
}
