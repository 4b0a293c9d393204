// After `npm install`: compile the contracts and generate protocol/generated/contracts.ts, so a fresh clone
// type-checks and runs without a separate build step.
import { spawnSync } from "node:child_process";
import { HARDHAT_CLI, ROOT } from "./lib/paths.ts";
import { ensureEdrNative } from "./lib/ensure-edr.ts";

if (ensureEdrNative() === "installed") console.log("postinstall: installed Hardhat's native EDR package for this platform");

const env = { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" };
for (const args of [[HARDHAT_CLI, "build", "--quiet"], ["scripts/codegen.ts"]]) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`postinstall: \`${args.join(" ")}\` failed; fix the error above, then run \`npm run codegen\`.`);
    process.exit(r.status ?? 1);
  }
}
