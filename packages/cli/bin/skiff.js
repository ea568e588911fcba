#!/usr/bin/env node
import { main } from "../dist/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Interrupted and cleaned up: code of the app still pending here (timers) must not keep
    // the process alive.
    if (code === 130) process.exit();
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
