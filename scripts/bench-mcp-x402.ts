// `npm run bench:mcp-x402`: latency of one paid Silero VAD inference by transport, side by side in one run against
// a real worker on a local chain: native (Buyer.infer, one round trip, clear JSON), x402 over HTTP (@x402/fetch with
// EdgepayChannelScheme: the 402, then the paid request) and x402 over MCP (callPaidTool through the SDK's client:
// the PaymentRequired tool result, then the paid call, which the worker runs through its paid route over loopback).
// All pay from channels opened before the timed window. Rounds alternate the order of the transports.
// Environment: BENCH_CALLS (per transport and round, default 30), BENCH_ROUNDS (default 3).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { x402Client } from "@x402/core/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { testUsdcAbi } from "../protocol/generated/contracts.ts";
import { Buyer, callPaidTool, MemoryBuyerStore, type McpToolResult } from "../protocol/client/index.ts";
import { EdgepayChannelScheme } from "../protocol/client/x402-scheme.ts";
import { tensorFromWire, type Tensor } from "../protocol/tensors.ts";
import { caip2 } from "../protocol/x402.ts";
import { clientsFor, startLocalnet } from "./lib/localnet.ts";
import { setupMarket, SILERO_VAD_V5, vadInputs } from "./lib/worker-fixture.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PRICE = 10n;
const DEPOSIT = 1_000_000n;

const inputsOf = (seed: number): Record<string, Tensor> => Object.fromEntries(Object.entries(vadInputs(seed)).map(([n, w]) => [n, tensorFromWire(n, w)]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

const net = await startLocalnet({ challengePeriod: 600n });
const market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, price: PRICE }], config: { http: { unpaidPerClient: { burst: 1_000_000, perSecond: 100_000 } } } });
try {
  const modelId = market.models[0]!.modelId;
  const worker = market.worker!.url;
  // One payer key per transport, so each has its own channel and nothing queues behind another's lock.
  const buyers = [4, 5, 6].map((i) => {
    const { publicClient, walletClient, account } = clientsFor(net, i);
    return { buyer: new Buyer({ publicClient, wallet: walletClient, paymentChannels: market.contracts.paymentChannels, store: new MemoryBuyerStore(), sealing: false, http: { encoding: "json" } }), publicClient, walletClient, account };
  });
  for (const b of buyers) {
    await b.publicClient.waitForTransactionReceipt({ hash: await b.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [b.account.address, 10n * DEPOSIT] }) });
  }
  const [native, viaHttp, viaMcp] = buyers as [(typeof buyers)[0], (typeof buyers)[0], (typeof buyers)[0]];

  const scheme = new EdgepayChannelScheme(viaHttp.buyer, { deposit: DEPOSIT });
  const client = new x402Client().register("eip155:*", scheme);
  client.setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token }] });
  const pay = scheme.wrap(wrapFetchWithPayment(fetch, client));
  const mcp = new Client({ name: "bench", version: "1" });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(`${worker}/mcp`)));
  const callTool = async (p: Parameters<typeof mcp.callTool>[0]) => (await mcp.callTool(p)) as McpToolResult;

  let seed = 0;
  const transports: Record<string, () => Promise<void>> = {
    native: async () => void (await native.buyer.infer(modelId, inputsOf(seed++), { workers: [worker], autoOpen: { deposit: DEPOSIT } })),
    "x402 HTTP": async () => {
      const res = await pay(`${worker}/v1/infer/${modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: vadInputs(seed++) }) });
      if (res.status !== 200) throw new Error(`x402 HTTP: ${res.status} ${await res.text()}`);
    },
    "x402 MCP": async () => void (await callPaidTool(viaMcp.buyer, { callTool, endpoint: worker, modelId, inputs: inputsOf(seed++), autoOpen: { deposit: DEPOSIT } })),
  };
  // Warm-up: opens each transport's channel and warms the model, outside the timed window.
  for (const run of Object.values(transports)) for (let i = 0; i < 3; i++) await run();

  const times: Record<string, number[]> = Object.fromEntries(Object.keys(transports).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? Object.keys(transports) : Object.keys(transports).reverse();
    for (const name of order) {
      for (let i = 0; i < CALLS; i++) {
        const t0 = performance.now();
        await transports[name]!();
        times[name]!.push(performance.now() - t0);
      }
    }
  }
  console.log(`paid Silero VAD v5 inferences, one at a time, ${ROUNDS} rounds x ${CALLS} calls per transport (ms)`);
  console.log("transport   median   p90   round trips");
  const trips: Record<string, string> = { native: "1", "x402 HTTP": "2 (402, paid)", "x402 MCP": "2 tool calls (+1 loopback each)" };
  for (const [name, xs] of Object.entries(times)) console.log(`${name.padEnd(10)} ${median(xs).toFixed(1).padStart(7)} ${p90(xs).toFixed(1).padStart(6)}   ${trips[name]}`);
  await mcp.close();
} finally {
  await market.stop();
  await net.stop();
}
