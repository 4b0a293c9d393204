// `npm run bench:x402`: latency per paid call of x402 `exact` (one EIP-3009 authorization per request, settled
// on-chain by the worker before it answers) beside Edgepay channels, in one run against one real worker on a local
// Hardhat chain (Silero VAD v5, one unit per request). Modes, each timed from the caller's fetch to the answer:
//   exact     unmodified @x402/fetch + @x402/evm exact client: the 402, then the paid request (verify, simulate,
//             store, infer, settleExact mined, receipt)
//   channel   unmodified @x402/fetch + our edgepay-channel scheme: the 402, then the paid request with a voucher
//   native    the Edgepay Buyer client (no 402 round trip: it knows the channel's terms)
// Modes alternate per round (the order reversed on odd rounds) so drift on a shared machine hits all alike. The
// local chain mines each transaction at once: on a real chain `exact` also waits for a block (about 2 s on Base,
// 12 s on Ethereum), which a channel call never does. Gas per exact settlement is read from the receipts.
// Environment: BENCH_CALLS (per mode and round, default 20), BENCH_ROUNDS (default 3).
import { x402Client } from "@x402/core/client";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment } from "@x402/fetch";
import type { Hex } from "viem";
import { testUsdcAbi } from "../protocol/generated/contracts.ts";
import { Buyer, inferBody, MemoryBuyerStore } from "../protocol/client/index.ts";
import { EdgepayChannelScheme } from "../protocol/client/x402-scheme.ts";
import { tensorFromWire } from "../protocol/tensors.ts";
import { caip2 } from "../protocol/x402.ts";
import { clientsFor, startLocalnet, type Localnet } from "./lib/localnet.ts";
import { setupMarket, SILERO_VAD_V5, vadInputs, type Market } from "./lib/worker-fixture.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PRICE = 1_000n;
const EXACT_BUYER = 4;
const CHANNEL_BUYER = 5;

let net: Localnet | undefined;
let market: Market | undefined;
try {
  await main();
} finally {
  await market?.stop();
  await net?.stop();
}

async function main() {
  net = await startLocalnet({ challengePeriod: 600n });
  market = await setupMarket(net, {
    models: [{ file: SILERO_VAD_V5, price: PRICE, royaltyBps: 1_000 }],
    config: { http: { unpaidPerClient: { burst: 1_000_000, perSecond: 100_000 } } },
  });
  const m = market;
  const modelId = m.models[0]!.modelId;
  const url = `${m.worker!.url}/v1/infer/${modelId}`;
  for (const i of [EXACT_BUYER, CHANNEL_BUYER]) {
    const { walletClient, publicClient, account } = clientsFor(net, i);
    await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: m.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 1_000_000_000n] }) });
  }
  const allowed = { allowedAssets: [{ network: caip2(m.chainId) as `${string}:${string}`, asset: m.token }] };

  const exactClient = new x402Client();
  registerExactEvmScheme(exactClient, { signer: clientsFor(net, EXACT_BUYER).account });
  exactClient.setSpendControls(allowed);
  const exactFetch = wrapFetchWithPayment(fetch, exactClient);

  const c = clientsFor(net, CHANNEL_BUYER);
  const buyer = new Buyer({ publicClient: c.publicClient, wallet: c.walletClient, paymentChannels: m.contracts.paymentChannels, store: new MemoryBuyerStore(), http: { timeoutMs: 20_000, encoding: "json" } });
  const scheme = new EdgepayChannelScheme(buyer, { deposit: 10_000n * PRICE });
  const channelClient = new x402Client().register("eip155:*", scheme);
  channelClient.setSpendControls(allowed);
  const channelFetch = scheme.wrap(wrapFetchWithPayment(fetch, channelClient));

  const settlements: Hex[] = [];
  let seed = 0;
  const post = async (pay: typeof fetch, keep?: Hex[]) => {
    const res = await pay(url, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs(seed++)) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`paid call answered ${res.status}: ${text.slice(0, 300)}`);
    if (keep) keep.push(decodePaymentResponseHeader(res.headers.get("payment-response")!).transaction as Hex);
  };
  const modes: [string, () => Promise<void>][] = [
    ["exact (x402 fetch, settled on-chain per call)", () => post(exactFetch, settlements)],
    ["channel (x402 fetch, voucher)", () => post(channelFetch)],
    ["channel (native Buyer client)", async () => {
      await buyer.infer(modelId, Object.fromEntries(Object.entries(vadInputs(seed++)).map(([k, w]) => [k, tensorFromWire(k, w)])), { workers: [m.worker!.url] });
    }],
  ];
  // Warm-up: the channel is opened, the exact receiver deployed, code paths compiled.
  for (const [, call] of modes) for (let i = 0; i < 3; i++) await call();
  settlements.length = 0;

  const times = new Map<string, number[]>(modes.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? modes : [...modes].reverse();
    for (const [name, call] of order) {
      for (let i = 0; i < CALLS; i++) {
        const t0 = performance.now();
        await call();
        times.get(name)!.push(performance.now() - t0);
      }
    }
  }

  const gas: bigint[] = [];
  for (const hash of settlements) gas.push((await clientsFor(net, EXACT_BUYER).publicClient.getTransactionReceipt({ hash })).gasUsed);
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const fmt = (x: number) => x.toFixed(1).padStart(7);
  const lines = [
    `x402 exact vs Edgepay channel, per paid call (${ROUNDS} rounds x ${CALLS} calls per mode, one at a time; Silero VAD v5, 1 unit; local Hardhat chain, automine)`,
    `${"mode".padEnd(48)} ${"p50 ms".padStart(7)} ${"p95 ms".padStart(7)} ${"mean ms".padStart(7)}`,
    ...[...times].map(([name, xs]) => `${name.padEnd(48)} ${fmt(q(xs, 0.5))} ${fmt(q(xs, 0.95))} ${fmt(mean(xs))}`),
    `exact settlement gas (settleExact, receipt gasUsed): min ${gas.reduce((a, b) => (b < a ? b : a))}, max ${gas.reduce((a, b) => (b > a ? b : a))} over ${gas.length} calls`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
