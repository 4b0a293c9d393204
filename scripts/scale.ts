// `npm run scale`: the marketplace at the size on a local Hardhat node, and what the dashboard's reads cost
// there. Seeds >= 1,000 devices, 200 models, 50,000 channels and 200,000 claims over a chain padded to 1,000,000
// blocks (SCALE=0.02 for a fiftieth; CI runs test/integration/scale.test.ts at that size), reads every page's list
// the way the dashboard does today (event scans + one view per row), and prints time, rows and JSON-RPC requests per
// page, plus the seeding's own throughput. Environment: SCALE (default 1), SCALE_JSON=file writes the figures.
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { freePort, startChain } from "./lib/chain.ts";
import { deployLocal, forgetDeployment } from "./lib/deploy.ts";
import { BulkRpc } from "./lib/scale-rpc.ts";
import { scaledTargets, seedMarket } from "./lib/scale-seed.ts";
import { measureScans } from "./lib/scale-measure.ts";

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
  log("reading every page's lists as the dashboard does today (event scans from block 0, one view per row)...");
  const reads = await measureScans(config, seeded);
  console.log("\npage          what                                   rows   seconds   JSON-RPC requests");
  for (const r of reads) console.log(`${r.page.padEnd(13)} ${r.what.padEnd(38)} ${String(r.rows).padStart(6)} ${r.seconds.toFixed(2).padStart(9)} ${String(r.rpcRequests).padStart(19)}`);
  console.log(
    "\nThese are today's scans (no index). The goal is < 1 s per page at full size with an index; a provider that caps" +
      "\neth_getLogs ranges (1k-10k blocks) refuses the single-range scans above outright.",
  );
  if (process.env.SCALE_JSON) writeFileSync(process.env.SCALE_JSON, JSON.stringify({ targets, seeded: { ...seeded, gasUsed: seeded.gasUsed.toString() }, head: head.toString(), reads }, null, 2));
} finally {
  await chain.stop();
  await forgetDeployment(deploymentId);
}
