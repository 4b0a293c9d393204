// `npm run scale`: the marketplace at the issue's size on a local Hardhat node, and what the dashboard's reads cost
// there. Seeds >= 1,000 devices, 200 models, 50,000 channels and 200,000 claims over a chain padded to 1,000,000
// blocks (SCALE=0.02 for a fiftieth; CI runs test/integration/scale.test.ts at that size), reads every page's list
// the way the dashboard does today (event scans + one view per row), and prints time, rows and JSON-RPC requests per
// page, plus the seeding's own throughput. Environment: SCALE (default 1), SCALE_JSON=file writes the figures,
// SCALE_HOLD=file keeps the chain and the caught-up indexer running after the run and writes where they are to that
// file (`npm run scale:pages` reads it: page loads in Chromium and the 50 tx/s follow), until Ctrl-C or SIGTERM.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { freePort, startChain } from "./lib/chain.ts";
import { deployLocal, forgetDeployment } from "./lib/deploy.ts";
import { BulkRpc } from "./lib/scale-rpc.ts";
import { scaledTargets, seedMarket } from "./lib/scale-seed.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startIndexer, waitCaughtUp } from "./lib/indexer.ts";
import { measureIndexed, measureScans, type PageRead } from "./lib/scale-measure.ts";

const factor = Number(process.env.SCALE ?? 1);
if (!(factor > 0 && factor <= 1)) throw new Error(`SCALE must be in (0, 1], got ${process.env.SCALE}`);
const targets = scaledTargets(factor);
const log = (line: string) => console.log(`[scale ${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}`);
const t0 = performance.now();

log(`targets: ${JSON.stringify(targets)} (SCALE=${factor}); machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
const chain = await startChain({ port: await freePort() });
const deploymentId = `scale-${chain.port}`;
chain.process.once("exit", (code, signal) => log(`the Hardhat node exited (${signal ?? code})`));
chain.process.stderr?.on("data", (d: Buffer) => process.stderr.write(`[hardhat node] ${d.toString()}`));
try {
  const d = await deployLocal({ rpcPort: chain.port, deploymentId, parameters: { challengePeriod: 86_400n } });
  log(`chain ${chain.url}, contracts deployed`);
  const rpc = new BulkRpc(chain.url);
  const seeded = await seedMarket(rpc, { chainId: d.chainId, token: d.token, modelRegistry: d.modelRegistry, deviceRegistry: d.deviceRegistry, paymentChannels: d.paymentChannels }, targets, log);
  const head = await rpc.blockNumber();
  log(`seeded: ${seeded.transactions} transactions, ${seeded.gasUsed} gas, ${(seeded.transactions / seeded.seconds).toFixed(0)} tx/s; chain head ${head}`);

  const config = {
    chainId: d.chainId,
    rpcUrl: chain.url,
    deploymentId,
    contracts: { token: d.token, modelRegistry: d.modelRegistry, deviceRegistry: d.deviceRegistry, paymentChannels: d.paymentChannels, flightRecorder: d.flightRecorder },
    fromBlock: "0",
    workers: [],
  };
  log("reading every page's lists as the dashboard does today (paged event scans from block 0, one view per row)...");
  const reads = await measureScans(config, seeded);

  // The indexer from an empty database: catch-up time over the whole chain, then the same lists from it.
  const dataDir = mkdtempSync(path.join(tmpdir(), "edgepay-scale-indexer-"));
  let indexed: PageRead[] = [];
  let catchUp: { seconds: number; rssMB: number } | undefined;
  try {
    const t1 = performance.now();
    const indexer = await startIndexer({ rpcUrl: chain.url, chainId: d.chainId, contracts: config.contracts, port: await freePort(), dataDir, schema: deploymentId });
    try {
      let last = 0;
      await waitCaughtUp(indexer, chain.url, {
        timeoutMs: 4 * 3600_000,
        onProgress: (at, h) => {
          if (performance.now() - last < 15_000) return;
          last = performance.now();
          log(`indexer at block ${at ?? "-"} of ${h}`);
        },
      });
      catchUp = { seconds: (performance.now() - t1) / 1000, rssMB: rssOf(indexer.child.pid) };
      log(`indexer caught up in ${catchUp.seconds.toFixed(1)} s (from spawn, ${eventCount(targets)} events: ${(eventCount(targets) / catchUp.seconds).toFixed(0)} events/s), RSS ${catchUp.rssMB.toFixed(0)} MB`);
      indexed = await measureIndexed(indexer.url, seeded);
      if (process.env.SCALE_HOLD) {
        report(reads, indexed, catchUp, head, seeded);
        await hold(process.env.SCALE_HOLD, { chainUrl: chain.url, chainId: d.chainId, contracts: config.contracts, indexerUrl: indexer.url, busyBuyer: seeded.busyBuyer, busyProvider: seeded.busyProvider, deploymentId, indexerPid: indexer.child.pid, chainPid: chain.process.pid });
      }
    } finally {
      await indexer.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  if (!process.env.SCALE_HOLD) report(reads, indexed, catchUp, head, seeded);
} finally {
  await chain.stop();
  await forgetDeployment(deploymentId);
}

function report(reads: PageRead[], indexed: PageRead[], catchUp: { seconds: number; rssMB: number } | undefined, head: bigint, seeded: Awaited<ReturnType<typeof seedMarket>>): void {
  console.log("\npage          what (today: RPC scans | indexer: one GraphQL page)            rows   seconds   requests");
  for (const [kind, list] of [["today", reads], ["indexer", indexed]] as const) {
    for (const r of list) console.log(`${r.page.padEnd(13)} ${`${kind}: ${r.what}`.padEnd(58)} ${String(r.rows).padStart(7)} ${r.seconds.toFixed(3).padStart(9)} ${String(kind === "today" ? r.rpcRequests : 1).padStart(10)}`);
  }
  console.log("\nrows: what the read returned (today: every row; indexer: the total the database counted, a page of it sent).");
  if (process.env.SCALE_JSON) {
    writeFileSync(process.env.SCALE_JSON, JSON.stringify({ targets, seeded: { ...seeded, gasUsed: seeded.gasUsed.toString() }, head: head.toString(), reads, catchUp, indexed }, null, 2));
  }
}

/** Writes where the seeded chain and the indexer are, then waits for Ctrl-C / SIGTERM before the cleanup runs. */
async function hold(file: string, state: Record<string, unknown>): Promise<void> {
  writeFileSync(file, JSON.stringify(state, null, 2));
  log(`holding the chain and the indexer (state in ${file}); Ctrl-C or SIGTERM to stop`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  log("stopping");
}

/** Resident memory of a process, MB (Linux /proc). */
function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Events the seeding emitted that the indexer stores (publish, licence, registration, offering, open, claim). */
function eventCount(t: ReturnType<typeof scaledTargets>): number {
  const owners = Math.ceil(t.devices / 10);
  return t.models + owners * 2 + t.devices * 3 + t.channels + t.claims;
}
