// One paid inference from the browser: sign the next voucher with the channel's session key (no wallet prompt),
// call the worker, and check the receipt against what was paid, sent and received.
import { isAddressEqual, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { recoverReceiptSigner, type SignedReceipt } from "../../protocol/receipt.ts";
import { hashTensors, tensorFromWire, tensorToWire, type Tensor, type TensorMapWire } from "../../protocol/tensors.ts";
import { encodeVoucherHeader, signVoucher } from "../../protocol/voucher.ts";
import { postInfer } from "../../protocol/client/worker-api.ts";
import type { ChannelRecord } from "../../protocol/client/store.ts";
import type { LocalStorageBuyerStore } from "./session-store.ts";

export interface ReceiptCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface PaidAnswer {
  outputs: Record<string, Tensor>;
  receipt: SignedReceipt;
  /** Cumulative amount of the voucher that paid for this answer. */
  amount: bigint;
  price: bigint;
  checks: ReceiptCheck[];
  valid: boolean;
}

export class PaidInferError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "PaidInferError";
    this.code = code;
  }
}

export async function paidInfer(args: {
  store: LocalStorageBuyerStore;
  record: ChannelRecord;
  endpoint: string;
  inputs: Record<string, Tensor>;
  /** The channel's deposit on-chain right now. */
  deposit: bigint;
  /** contentHash of the model in the ModelRegistry. */
  modelHash: Hex;
}): Promise<PaidAnswer> {
  const { store, endpoint, inputs, deposit, modelHash } = args;
  const record = { ...args.record, terms: { ...args.record.terms } };
  const price = record.terms.price;
  const signer = privateKeyToAccount(record.signerKey);
  const wireInputs: TensorMapWire = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, tensorToWire(t)]));

  let amount = record.paid + price;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (amount > deposit) {
      throw new PaidInferError("insufficient_credit", `This channel's credit is used up (${deposit} deposited, next call needs ${amount}): top it up.`);
    }
    const voucher = await signVoucher(signer, {
      chainId: record.chainId,
      paymentChannels: record.paymentChannels,
      channelId: record.channelId,
      cumulativeAmount: amount,
    });
    // Remember the highest amount ever signed before it leaves the browser: it bounds what the device may claim.
    if (amount > record.signed) {
      record.signed = amount;
      await store.putChannel(record);
    }
    const answer = await postInfer(endpoint, record.terms.modelId, wireInputs, { voucher: encodeVoucherHeader(voucher) });
    if (answer.kind === "ok") {
      const body = answer.body;
      const outputs = Object.fromEntries(Object.entries(body.outputs).map(([k, w]) => [k, tensorFromWire(k, w)]));
      const checks = await checkReceipt(body.receipt, {
        device: record.terms.device,
        channelId: record.channelId,
        amount,
        modelId: record.terms.modelId,
        modelHash,
        inputHash: hashTensors(inputs),
        outputHash: hashTensors(outputs),
        chainId: record.chainId,
        paymentChannels: record.paymentChannels,
      });
      const valid = checks.every((c) => c.ok);
      record.paid = amount;
      await store.putChannel(record);
      await store.addReceipt({
        receipt: body.receipt,
        device: record.terms.device,
        endpoint,
        price: BigInt(body.price),
        verification: valid ? { valid: true } : { valid: false, reason: checks.find((c) => !c.ok)!.name },
        receivedAt: Date.now(),
      });
      args.record.paid = record.paid;
      args.record.signed = record.signed;
      return { outputs, receipt: body.receipt, amount, price: BigInt(body.price), checks, valid };
    }
    if (answer.kind === "payment_required" && attempt === 0) {
      const last = BigInt(answer.payment.lastAccepted);
      const required = BigInt(answer.payment.required);
      // The worker may know of an answer this tab never saw (a lost reply); it cannot know of more than was signed.
      if (last > record.signed) {
        throw new PaidInferError("worker_overclaims", `The worker says it accepted ${last}, but this browser never signed more than ${record.signed}.`);
      }
      if (required !== amount) {
        record.paid = last;
        amount = required;
        continue;
      }
    }
    throw new PaidInferError(answer.code, `${answer.code}: ${answer.message}`);
  }
  throw new PaidInferError("payment_required", "The worker kept asking for payment.");
}

async function checkReceipt(
  r: SignedReceipt,
  e: { device: Address; channelId: Hex; amount: bigint; modelId: bigint; modelHash: Hex; inputHash: Hex; outputHash: Hex; chainId: number; paymentChannels: Address },
): Promise<ReceiptCheck[]> {
  let signer: Address | undefined;
  try {
    signer = await recoverReceiptSigner(r, e.chainId, e.paymentChannels);
  } catch {
    signer = undefined;
  }
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  return [
    { name: "device signature", ok: !!signer && isAddressEqual(signer, e.device), detail: `signed by ${signer ?? "nobody (malformed)"}; channel device ${e.device}` },
    { name: "channel", ok: same(r.channelId, e.channelId), detail: r.channelId },
    { name: "amount paid", ok: r.cumulativeAmount === e.amount, detail: `receipt ${r.cumulativeAmount}, voucher ${e.amount}` },
    { name: "model hash vs on-chain contentHash", ok: r.modelId === e.modelId && same(r.modelHash, e.modelHash), detail: `model #${r.modelId}: ${r.modelHash}` },
    { name: "input hash", ok: same(r.inputHash, e.inputHash), detail: `receipt ${r.inputHash}, computed ${e.inputHash}` },
    { name: "output hash", ok: same(r.outputHash, e.outputHash), detail: `receipt ${r.outputHash}, computed ${e.outputHash}` },
  ];
}
