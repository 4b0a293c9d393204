// `npm run scale:pages`: the dashboard's pages in real Chromium on a held scale run, before (RPC scans) and after
// (indexer), then 50 tx/s of real channel opens and claims while the indexer follows. Attaches to the run through its
// state file (SCALE_STATE=path, written by `SCALE_HOLD=state.json npm run scale`; format in scripts/lib/scale-state.ts).
// Environment: SCALE_STATE (required), SCALE_PAGES_JSON=file (the figures), SCALE_PAGE_TIMEOUT_S (120),
// SCALE_SKIP_BEFORE=1, SCALE_FOLLOW_SECONDS (60; 0 skips), SCALE_FOLLOW_TPS (50), SCALE_FOLLOW_BLOCK_MS (1000; 0 = automine).
import { writeFileSync } from "node:fs";
import { formatScalePages, runScalePages } from "./lib/scale-pages-run.ts";
import { readScaleState } from "./lib/scale-state.ts";

const t0 = performance.now();
const log = (line: string) => console.log(`[scale:pages ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);

function numberEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    console.error(`${name} must be a number >= ${min}, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

const stateFile = process.env.SCALE_STATE?.trim();
if (!stateFile) {
  console.error("SCALE_STATE is not set: point it at the state file of a held scale run (SCALE_HOLD=state.json npm run scale writes it).");
  process.exit(2);
}
try {
  const state = readScaleState(stateFile);
  log(`attached to ${state.chainUrl} (deployment ${state.deploymentId}), indexer ${state.indexerUrl}; busy buyer ${state.busyBuyer}, busy provider ${state.busyProvider}`);
  const result = await runScalePages(state, {
    pageTimeoutMs: numberEnv("SCALE_PAGE_TIMEOUT_S", 120, 1) * 1000,
    skipBefore: process.env.SCALE_SKIP_BEFORE === "1",
    follow: { seconds: numberEnv("SCALE_FOLLOW_SECONDS", 60), txPerSecond: numberEnv("SCALE_FOLLOW_TPS", 50, 1), blockTimeMs: numberEnv("SCALE_FOLLOW_BLOCK_MS", 1000) },
    log,
  });
  console.log(`\n${formatScalePages(result)}`);
  if (process.env.SCALE_PAGES_JSON) writeFileSync(process.env.SCALE_PAGES_JSON, JSON.stringify(result, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2));
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
