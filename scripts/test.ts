// `npm test`: every test suite of the repo, one after another, then one summary line `N passed, N failed`.
// Each stage is a mocha-style runner; its "N passing / N failing" lines are summed.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { HARDHAT_CLI, ROOT } from "./lib/paths.ts";

interface Stage {
  name: string;
  args: string[];
  /** Counts toward the summary (false for build steps). */
  counts: boolean;
  when?: () => boolean;
}

const MOCHA_CLI = path.join(ROOT, "node_modules/mocha/bin/mocha.js");

const stages: Stage[] = [
  { name: "build contracts", args: [HARDHAT_CLI, "build"], counts: false },
  { name: "codegen", args: ["scripts/codegen.ts"], counts: false },
  { name: "typecheck (tsc)", args: [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], counts: false },
  // The indexer has its own project: its handlers import Ponder's virtual modules (ponder:registry, ponder:schema).
  { name: "typecheck indexer (tsc)", args: [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "indexer"], counts: false },
  { name: "contracts: solidity fuzz/invariant tests", args: [HARDHAT_CLI, "test", "solidity"], counts: true },
  { name: "contracts: mocha tests", args: [HARDHAT_CLI, "test", "mocha"], counts: true },
  { name: "integration: worker, client, chain", args: [MOCHA_CLI], counts: true },
  {
    name: "web: production build",
    // Skipped when web/.next already holds a build of the same inputs (e.g. made by the `npm start` test).
    args: ["scripts/build-web.ts"],
    counts: false,
    when: () => existsSync(path.join(ROOT, "test/e2e")),
  },
  {
    name: "e2e: dashboard in chromium",
    args: [MOCHA_CLI, "--config", "test/e2e/.mocharc.json"],
    counts: true,
    when: () => existsSync(path.join(ROOT, "test/e2e")),
  },
];

const only = process.argv.slice(2);
let passed = 0;
let failed = 0;
let brokenStage: string | undefined;

for (const stage of stages) {
  if (stage.when && !stage.when()) continue;
  if (only.length && !only.some((o) => stage.name.includes(o))) continue;
  console.log(`\n=== ${stage.name} ===`);
  const result = await runStage(process.execPath, stage.args);
  if (stage.counts) {
    const p = lastNumber(result.output, /(\d+) passing/g);
    const f = lastNumber(result.output, /(\d+) failing/g);
    passed += p;
    failed += f;
    if (result.code !== 0 && f === 0) {
      // The runner crashed before or after counting: count the stage itself as one failure.
      failed += 1;
      brokenStage = stage.name;
    }
  } else if (result.code !== 0) {
    failed += 1;
    brokenStage = stage.name;
    console.log(`\n${stage.name} failed (exit ${result.code}); later stages depend on it.`);
    break;
  }
}

if (brokenStage) console.log(`\nstage failed: ${brokenStage}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

function runStage(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", NEXT_TELEMETRY_DISABLED: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const tee = (stream: NodeJS.WriteStream) => (d: Buffer) => {
      output += d.toString();
      stream.write(d);
    };
    child.stdout.on("data", tee(process.stdout));
    child.stderr.on("data", tee(process.stderr));
    child.once("exit", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

function lastNumber(text: string, re: RegExp): number {
  let n = 0;
  for (const m of text.matchAll(re)) n = Number(m[1]);
  return n;
}
