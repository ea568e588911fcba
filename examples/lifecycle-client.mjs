// A plain Node script: looks up the deployed class, makes an instance and calls its method.
//   node examples/lifecycle-client.mjs
import { Cls } from "skiff";

const Lifecycle = await Cls.lookup("lifecycle-app", "Lifecycle");
const obj = Lifecycle.instance();
console.log("foo() =", await obj.foo.remote());
