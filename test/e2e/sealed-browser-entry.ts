// Bundled by test/e2e/sealed-browser.test.ts (esbuild) into a page: the buyer client itself, in chromium, paying a
// real worker with sealed requests (WebCrypto) and checking the device key against the chain.
import { createPublicClient, http, type Address, type Hex } from "viem";
import { Buyer, channelRecordFromJson, EdgepayClientError, MemoryBuyerStore, type ChannelRecordJson } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";

export interface BrowserRun {
  rpcUrl: string;
  paymentChannels: Address;
  worker: string;
  modelId: string;
  record: ChannelRecordJson;
  /** Pay without a channel id, expecting this device (to see a mismatch refused). */
  expectDevice?: Address;
}

async function run(a: BrowserRun) {
  const store = new MemoryBuyerStore();
  await store.putChannel(channelRecordFromJson(a.record));
  const buyer = new Buyer({ publicClient: createPublicClient({ transport: http(a.rpcUrl) }), paymentChannels: a.paymentChannels, store });
  const f = new Float32Array(512).map((_, i) => 0.2 * Math.sin((2 * Math.PI * 211 * i) / 16000));
  try {
    const r = await buyer.infer(BigInt(a.modelId), sileroVadInputs(f, initialVadState()), a.expectDevice ? { workers: [a.worker], device: a.expectDevice } : { workers: [a.worker], channelId: a.record.channelId as Hex });
    return { ok: true as const, amount: r.receipt.cumulativeAmount.toString(), output: Array.from(r.outputs.output!.data as Float32Array), secure: window.isSecureContext };
  } catch (error) {
    return { ok: false as const, code: error instanceof EdgepayClientError ? error.code : "other", message: (error as Error).message };
  }
}

(window as unknown as { edgepayRun: typeof run }).edgepayRun = run;
