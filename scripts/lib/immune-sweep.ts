// The sweep of `npm run immune`: for every (check rate, cheat rate) cell, `runs` simulated device lives of `calls`
// calls each (scripts/lib/immune-run.ts), plus one honest life (cheat rate 0) per check rate as the baseline, and
// the figures per cell: detection latency, the cheater's and the honest device's profit, and checking overhead.
import { OnnxLocalVerifier } from "../../protocol/node/local-verifier.ts";
import { compareOutputs } from "../../protocol/tolerance.ts";
import type { Committee } from "./immune-dispute.ts";
import type { ImmuneMarket } from "./immune-market.ts";
import { simulateRun, type RunResult, type RunSpec } from "./immune-run.ts";

export interface SweepOptions {
  checkRates: number[];
  cheatRates: number[];
  calls: number;
  runs: number;
  seed: number;
  price: bigint;
  computeCost: bigint;
  claimEvery: number;
  onRun?: (r: RunResult, done: number, total: number) => void;
}

export interface CellResult {
  checkRate: number;
  cheatRate: number;
  runs: number;
  caught: number;
  /** Calls until caught, over all runs, never-caught counting as beyond the horizon: null = beyond. */
  latencyMedian: number | null;
  latencyP90: number | null;
  neverCaughtShare: number;
  /** Means over the runs (token units; bigint division). */
  earnedMean: bigint;
  earnedBeforeCaughtMean: bigint | null;
  slashedMean: bigint;
  profitMean: bigint;
  /** The honest device's profit at this check rate over the same horizon. */
  honestProfit: bigint;
  /** Checking spend / answer spend, both from the channels' claimed amounts, summed over the runs. */
  overhead: number;
  wrongUndetectedMean: number;
  /** The buyer's balance change over the dispute (bond out and back, plus the reporter's share of the slash), mean over runs. */
  reporterGainMean: bigint;
}

export interface SweepResult {
  options: Omit<SweepOptions, "onRun">;
  honest: RunResult[];
  cells: CellResult[];
  runs: RunResult[];
  seconds: number;
}

/** The q-quantile of calls-until-caught (sorted, never caught = +Infinity); null when it lies beyond the horizon. */
export function latencyQuantile(caughtAt: (number | null)[], q: number): number | null {
  const sorted = caughtAt.map((c) => c ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return Number.isFinite(v) ? v : null;
}

const mean = (xs: bigint[]) => (xs.length ? xs.reduce((a, b) => a + b, 0n) / BigInt(xs.length) : 0n);

export function cellOf(checkRate: number, cheatRate: number, runs: RunResult[], honest: RunResult): CellResult {
  const caught = runs.filter((r) => r.caughtAt !== null);
  const spend = runs.reduce((a, r) => a + r.spend, 0n);
  const checkSpend = runs.reduce((a, r) => a + r.checkSpend, 0n);
  return {
    checkRate,
    cheatRate,
    runs: runs.length,
    caught: caught.length,
    latencyMedian: latencyQuantile(runs.map((r) => r.caughtAt), 0.5),
    latencyP90: latencyQuantile(runs.map((r) => r.caughtAt), 0.9),
    neverCaughtShare: (runs.length - caught.length) / runs.length,
    earnedMean: mean(runs.map((r) => r.earned)),
    earnedBeforeCaughtMean: caught.length ? mean(caught.map((r) => r.earned)) : null,
    slashedMean: mean(runs.map((r) => r.slashed)),
    profitMean: mean(runs.map((r) => r.profit)),
    honestProfit: honest.profit,
    overhead: spend > 0n ? Number(checkSpend) / Number(spend) : 0,
    wrongUndetectedMean: runs.reduce((a, r) => a + r.wrongUndetected, 0) / runs.length,
    reporterGainMean: mean(runs.map((r) => r.dispute?.reporterDelta ?? 0n)),
  };
}

/** The committee of the simulated pool: members re-run the real model and compare under the on-chain tolerance. */
export function simulatedCommittee(m: ImmuneMarket, runtime: OnnxLocalVerifier): Committee {
  return {
    keys: new Map(m.verifiers.map((v) => [v.device.address.toLowerCase(), v.device])),
    judge: async (modelId, inputs, outputs) => compareOutputs(await runtime.run(modelId, m.modelHash, inputs), outputs, m.tolerance).valid,
  };
}

export async function runSweep(m: ImmuneMarket, options: SweepOptions): Promise<SweepResult> {
  const started = Date.now();
  const runtime = new OnnxLocalVerifier({ files: { [m.modelId.toString()]: m.modelFile } });
  const committee = simulatedCommittee(m, runtime);
  const total = options.checkRates.length * (options.cheatRates.length * options.runs + 1);
  let done = 0;
  const spec = (checkRate: number, cheatRate: number, seed: number): RunSpec => ({
    checkRate,
    cheatRate,
    calls: options.calls,
    seed,
    price: options.price,
    computeCost: options.computeCost,
    claimEvery: options.claimEvery,
  });
  const honest: RunResult[] = [];
  const cells: CellResult[] = [];
  const all: RunResult[] = [];
  try {
    for (const [i, checkRate] of options.checkRates.entries()) {
      const h = await simulateRun(m, runtime, committee, spec(checkRate, 0, options.seed + 1_000_000 * (i + 1)));
      honest.push(h);
      options.onRun?.(h, ++done, total);
      for (const [j, cheatRate] of options.cheatRates.entries()) {
        const runs: RunResult[] = [];
        for (let k = 0; k < options.runs; k++) {
          const r = await simulateRun(m, runtime, committee, spec(checkRate, cheatRate, options.seed + 1_000_000 * (i + 1) + 1_000 * (j + 1) + k));
          runs.push(r);
          options.onRun?.(r, ++done, total);
        }
        all.push(...runs);
        cells.push(cellOf(checkRate, cheatRate, runs, h));
      }
    }
  } finally {
    await runtime.release();
  }
  const { onRun: _onRun, ...rest } = options;
  return { options: rest, honest, cells, runs: all, seconds: (Date.now() - started) / 1000 };
}

// ------------------------------------------------------------------ formatting

const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)} %`;
const usdc = (u: bigint) => {
  const neg = u < 0n;
  const a = neg ? -u : u;
  return `${neg ? "-" : ""}${a / 1_000_000n}.${(a % 1_000_000n).toString().padStart(6, "0").slice(0, 4)}`;
};

export function formatSweep(r: SweepResult): string {
  const o = r.options;
  const beyond = `>${o.calls}`;
  const header = ["check", "cheat", "runs", "caught", "median calls", "p90 calls", "never caught", "earned (mean)", "earned if caught", "slashed (mean)", "cheater profit", "honest profit", "cheat - honest", "check overhead", "buyer reward", "wrong undetected"];
  const rows = r.cells.map((c) => [
    pct(c.checkRate),
    pct(c.cheatRate),
    String(c.runs),
    String(c.caught),
    c.latencyMedian === null ? beyond : String(c.latencyMedian),
    c.latencyP90 === null ? beyond : String(c.latencyP90),
    pct(c.neverCaughtShare),
    usdc(c.earnedMean),
    c.earnedBeforeCaughtMean === null ? "-" : usdc(c.earnedBeforeCaughtMean),
    usdc(c.slashedMean),
    usdc(c.profitMean),
    usdc(c.honestProfit),
    usdc(c.profitMean - c.honestProfit),
    pct(c.overhead),
    usdc(c.reporterGainMean),
    c.wrongUndetectedMean.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(header), `|${widths.map((w, i) => (i < 2 ? ` ${"-".repeat(w)} ` : ` ${"-".repeat(w - 1)}: `)).join("|")}|`, ...rows.map(line)].join("\n");
}
