// `npm run immune`: does spot checking plus disputes make cheating a losing game? Starts its own Hardhat node,
// deploys the real contracts, and sweeps check rate x cheat rate over simulated device lives with real channels,
// claims and disputes (scripts/lib/immune-run.ts says exactly what is simulated). Prints the table; SIM_JSON=file
// writes every figure and run.
//
// Settings (env): IMMUNE_CALLS (2000 calls per life), IMMUNE_RUNS (40 lives per cell), IMMUNE_CHECK_RATES
// (0.005,0.02,0.1), IMMUNE_CHEAT_RATES (0.01,0.1,1), IMMUNE_PRICE (1000 = 0.001 USDC per call),
// IMMUNE_COMPUTE_SHARE (0.5: an honest answer costs the device half its price), IMMUNE_CLAIM_EVERY (500),
// IMMUNE_SEED (1), SIM_JSON (file).
import { writeFileSync } from "node:fs";
import os from "node:os";
import { DEFAULT_SPOT_CHECK_RATE } from "../protocol/client/spot-check.ts";
import { setupImmuneMarket } from "./lib/immune-market.ts";
import { formatSweep, runSweep } from "./lib/immune-sweep.ts";
import { startLocalnet } from "./lib/localnet.ts";
import { bold, secs, step } from "./lib/progress.ts";

function fail(message: string): never {
  console.error(`npm run immune: ${message}`);
  process.exit(2);
}

function num(name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) fail(`${name}=${raw} is not ${what}`);
  return n;
}

function rates(name: string, fallback: number[]): number[] {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((r) => !Number.isFinite(r) || r < 0 || r > 1)) fail(`${name}=${raw} is not a comma-separated list of rates within 0..1`);
  return list;
}

const CALLS = num("IMMUNE_CALLS", 2_000, (n) => Number.isInteger(n) && n >= 1, "a whole number >= 1");
const RUNS = num("IMMUNE_RUNS", 40, (n) => Number.isInteger(n) && n >= 1, "a whole number >= 1");
const CHECK_RATES = rates("IMMUNE_CHECK_RATES", [0.005, DEFAULT_SPOT_CHECK_RATE, 0.1]);
const CHEAT_RATES = rates("IMMUNE_CHEAT_RATES", [0.01, 0.1, 1]);
const PRICE = BigInt(num("IMMUNE_PRICE", 1_000, (n) => Number.isInteger(n) && n >= 1, "a whole number of token units >= 1"));
const COMPUTE_SHARE = num("IMMUNE_COMPUTE_SHARE", 0.5, (n) => n >= 0 && n <= 1, "a share within 0..1");
const CLAIM_EVERY = num("IMMUNE_CLAIM_EVERY", 500, (n) => Number.isInteger(n) && n >= 1, "a whole number >= 1");
const SEED = num("IMMUNE_SEED", 1, (n) => Number.isInteger(n) && n >= 0, "a whole number >= 0");
const COMPUTE_COST = (PRICE * BigInt(Math.round(COMPUTE_SHARE * 10_000))) / 10_000n;

const started = Date.now();
console.log(
  `${bold("Edgepay immune sim")}: check rates ${CHECK_RATES.join(", ")} x cheat rates ${CHEAT_RATES.join(", ")}, ${RUNS} lives of ${CALLS} calls per cell ` +
    `(+1 honest life per check rate); price ${PRICE}, honest compute cost ${COMPUTE_COST} per call (a wrong answer saves it)`,
);
const net = await startLocalnet();
let stopped = false;
const stop = async () => {
  if (stopped) return;
  stopped = true;
  await net.stop();
};
process.on("SIGINT", () => void stop().then(() => process.exit(130)));
try {
  step("ok", "chain", `hardhat node on ${net.chain.url}, contracts deployed (${secs(started)})`);
  const market = await setupImmuneMarket(net.chain.url, net.deployment, PRICE);
  step("ok", "market", `model #${market.modelId} (Silero VAD, tolerance ${market.tolerance.kind} ${market.tolerance.bound}e-9), pool of ${market.verifiers.length} verifiers, min stake ${market.minStake}`);
  const result = await runSweep(market, {
    checkRates: CHECK_RATES,
    cheatRates: CHEAT_RATES,
    calls: CALLS,
    runs: RUNS,
    seed: SEED,
    price: PRICE,
    computeCost: COMPUTE_COST,
    claimEvery: CLAIM_EVERY,
    onRun: (r, done, total) => {
      if (done % 5 === 0 || done === total || r.caughtAt !== null) {
        const what = r.cheatRate === 0 ? "honest" : r.caughtAt === null ? "never caught" : `caught at call ${r.caughtAt}, ${r.dispute?.outcome}, slashed ${r.slashed}`;
        step("run", `${done}/${total}`, `check ${r.checkRate} cheat ${r.cheatRate} seed ${r.seed}: ${what} (${secs(started)})`);
      }
    },
  });
  console.log(`\n${bold("Result")} (amounts in USDC per device life of ${CALLS} calls; means over the runs)\n`);
  console.log(formatSweep(result));
  const atDefault = result.cells.filter((c) => c.checkRate === DEFAULT_SPOT_CHECK_RATE);
  const losing = atDefault.filter((c) => c.profitMean < c.honestProfit);
  console.log(
    `\nAt the default check rate (DEFAULT_SPOT_CHECK_RATE = ${DEFAULT_SPOT_CHECK_RATE}): cheating ${
      atDefault.length === 0 ? "was not simulated" : losing.length === atDefault.length ? "earned less than honesty in every cheat rate simulated" : `earned MORE than honesty at cheat rate ${atDefault.filter((c) => !losing.includes(c)).map((c) => c.cheatRate).join(", ")}`
    }.`,
  );
  console.log(`Machine: ${os.cpus()[0]?.model ?? "?"} x ${os.cpus().length}, Node ${process.version}; ${result.runs.length + result.honest.length} lives in ${secs(started)}.`);
  if (process.env.SIM_JSON) {
    const json = JSON.stringify({ machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version }, ...result }, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
    writeFileSync(process.env.SIM_JSON, json + "\n");
    console.log(`figures: ${process.env.SIM_JSON}`);
  }
} catch (error) {
  console.error(`\nnpm run immune: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
} finally {
  await stop();
}
