// The image benchmarks' function: trivial, in Image.debianSlim().aptInstall("jq").npmInstall("zod").
import { App, Image } from "skiff";

export const image = Image.debianSlim().aptInstall("jq").npmInstall("zod@3.23.8");

export const app = new App("bench-image");

export const square = app.function({ image }, async (x: number) => x * x);
