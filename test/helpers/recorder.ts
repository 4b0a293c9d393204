// Flight recorder test helpers: paid inferences that return the signed receipt, proof fetches, chain reads.
import type { Address, Hex } from "viem";
import { flightRecorderAbi } from "../../protocol/generated/contracts.ts";
import type { SignedReceipt } from "../../protocol/receipt.ts";
import { inferResponseWire } from "../../protocol/wire.ts";
import type { TensorMapWire } from "../../protocol/tensors.ts";
import { clientsFor } from "../../scripts/lib/localnet.ts";
import { paidHeaders, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

/** One paid inference at `amount` (cumulative); returns the parsed receipt and outputs. */
export async function paidInfer(market: Market, channel: TestChannel, amount: bigint, inputs: TensorMapWire = vadInputs(Number(amount % 997n))) {
  const request = JSON.stringify({ inputs });
  const res = await fetch(`${market.worker!.url}/v1/infer/${channel.terms.modelId}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(await paidHeaders(market, channel, amount, request)) },
    body: request,
  });
  const json = (await res.json()) as unknown;
  if (res.status !== 200) throw new Error(`infer answered ${res.status}: ${JSON.stringify(json)}`);
  const body = inferResponseWire.parse(json);
  return { receipt: body.receipt as SignedReceipt, outputs: body.outputs };
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function anchoredSeq(market: Market, device: Address = market.device.address): Promise<bigint> {
  const { publicClient } = clientsFor(market.net, 0);
  const log = await publicClient.readContract({ address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "deviceLog", args: [device] });
  return BigInt(log.anchoredSeq);
}

export async function isAnchored(market: Market, root: Hex, fromSeq: bigint, toSeq: bigint): Promise<boolean> {
  const { publicClient } = clientsFor(market.net, 0);
  return publicClient.readContract({
    address: market.contracts.flightRecorder,
    abi: flightRecorderAbi,
    functionName: "isAnchored",
    args: [market.device.address, root, fromSeq, toSeq],
  });
}
