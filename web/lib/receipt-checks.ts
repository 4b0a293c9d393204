// The receipt check shown to a person, one line per property: who signed it, and whether the channel, amount,
// model hash (against the registry) and input/output hashes are exactly what this browser paid, sent and got.
import { isAddressEqual, type Address, type Hex } from "viem";
import { recoverReceiptSigner, type SignedReceipt } from "../../protocol/receipt.ts";

export interface ReceiptCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export async function checkReceipt(
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
    { name: "device signature", ok: !!signer && isAddressEqual(signer, e.device), detail: `recovers to ${signer ?? "nothing (malformed)"}; the channel's device is ${e.device}` },
    { name: "channel", ok: same(r.channelId, e.channelId), detail: r.channelId },
    { name: "amount paid", ok: r.cumulativeAmount === e.amount, detail: `receipt says ${r.cumulativeAmount}, the voucher paid ${e.amount} (cumulative)` },
    { name: "model hash = on-chain contentHash", ok: r.modelId === e.modelId && same(r.modelHash, e.modelHash), detail: `model #${r.modelId} ${r.modelHash}` },
    { name: "input hash", ok: same(r.inputHash, e.inputHash), detail: `receipt ${r.inputHash}; computed here ${e.inputHash}` },
    { name: "output hash", ok: same(r.outputHash, e.outputHash), detail: `receipt ${r.outputHash}; computed here ${e.outputHash}` },
  ];
}
