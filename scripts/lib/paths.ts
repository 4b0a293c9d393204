import { fileURLToPath } from "node:url";
import path from "node:path";

/** Repository root, whatever the caller's working directory. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Hardhat's CLI entry; always started with the Node that runs us (Node >= 22 from the `node` package). */
export const HARDHAT_CLI = path.join(ROOT, "node_modules/hardhat/dist/src/cli.js");
