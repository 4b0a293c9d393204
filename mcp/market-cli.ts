// `npm run market -- list [--json] [--model ID]`: the market-wide listing for agents, built from the on-chain
// DeviceRegistry and ModelRegistry plus each device's own discovery list (mcp/market.ts, the code behind the MCP
// server's list tools). Read-only: no key is needed.
import { parseArgs } from "node:util";
import { createPublicClient, http, isAddress, type Address } from "viem";
import { deployments } from "../protocol/generated/contracts.ts";
import { Buyer } from "../protocol/client/index.ts";
import { MemoryBuyerStore } from "../protocol/client/index.ts";
import type { MarketListing } from "../protocol/discovery.ts";
import { Market } from "./market.ts";

const USAGE = `usage: npm run market -- list [--json] [--model ID] [--rpc URL] [--payment-channels ADDRESS] [--timeout-ms MS]

Lists every registered device with its on-chain offerings and, for devices that answer, their paid resources in
x402's discovery shape (HTTP route and MCP tool per model: accepts, price, model hash, input/output JSON Schemas,
health). A device that does not answer within --timeout-ms (default 3000) is listed as unreachable.
Environment: EDGEPAY_RPC_URL (default http://127.0.0.1:8545), EDGEPAY_PAYMENT_CHANNELS (default: the deployment
of the chain's id).`;

function fail(message: string): never {
  console.error(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        model: { type: "string" },
        rpc: { type: "string" },
        "payment-channels": { type: "string" },
        "timeout-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 1 || positionals[0] !== "list") fail(`expected the command "list", got ${positionals.join(" ") || "nothing"}`);
if (values.model !== undefined && !/^[1-9][0-9]{0,30}$/.test(values.model)) fail(`--model must be a model id (a positive integer), not ${values.model}`);
const timeoutMs = values["timeout-ms"] === undefined ? 3_000 : Number(values["timeout-ms"]);
if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) fail("--timeout-ms must be an integer from 100 to 60000");

const rpcUrl = values.rpc ?? process.env.EDGEPAY_RPC_URL ?? "http://127.0.0.1:8545";
const publicClient = createPublicClient({ transport: http(rpcUrl) });
let chainId: number;
try {
  chainId = await publicClient.getChainId();
} catch {
  fail(`no chain answers at ${rpcUrl} (set --rpc or EDGEPAY_RPC_URL)`);
}
const paymentChannels = values["payment-channels"] ?? process.env.EDGEPAY_PAYMENT_CHANNELS ?? deployments.find((d) => d.chainId === chainId)?.paymentChannels;
if (!paymentChannels || !isAddress(paymentChannels)) fail(`no PaymentChannels address for chain ${chainId}: set --payment-channels or EDGEPAY_PAYMENT_CHANNELS`);

const buyer = new Buyer({ publicClient, paymentChannels: paymentChannels as Address, store: new MemoryBuyerStore(), retries: 0, http: { timeoutMs } });
const market = new Market(buyer, publicClient, timeoutMs);
const listing = await market.listing(values.model === undefined ? {} : { modelId: BigInt(values.model) });
if (values.json) console.log(JSON.stringify(listing, null, 2));
else console.log(describe(listing));

function describe(l: MarketListing): string {
  const lines = [`chain ${l.chainId}, PaymentChannels ${l.paymentChannels}: ${l.devices.length} device(s), ${l.items.length} paid resource(s)`];
  for (const d of l.devices) {
    lines.push(`${d.device} ${d.status} ${d.endpoint} ${d.reachable ? "reachable" : `UNREACHABLE (${d.error})`}`);
    for (const o of d.offers) lines.push(`  model ${o.modelId}: ${o.price} per unit of token ${o.token} (on-chain)`);
    for (const i of l.items.filter((x) => x.metadata.device.toLowerCase() === d.device.toLowerCase())) {
      lines.push(`  ${i.type.padEnd(4)} ${i.resource}${i.metadata.tool ? ` tool ${i.metadata.tool}` : ""}  ${i.metadata.name} (${i.metadata.modelHash.slice(0, 10)}…) ${i.accepts.map((a) => `${a.scheme} ${a.amount}`).join(", ")}`);
    }
  }
  return lines.join("\n");
}
