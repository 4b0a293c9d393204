// Dispute helpers: receipts as contract arguments, EIP-712 signing of receipts with any key (to simulate a
// tampering device or a forger), and the custom error name of a reverted call.
import { BaseError, ContractFunctionRevertedError, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { channelsDomain, receiptTypes } from "../../protocol/eip712.ts";
import { pickReceipt, type Receipt, type SignedReceipt } from "../../protocol/receipt.ts";

/** The contract's Receipt struct (no signature). */
export const receiptArg = pickReceipt;

/** Signs `r` as a Receipt with `privateKey` under the PaymentChannels domain of `chainId`/`paymentChannels`. */
export async function signReceiptWith(privateKey: Hex, r: Receipt, chainId: number, paymentChannels: Address): Promise<SignedReceipt> {
  const signature = await privateKeyToAccount(privateKey).signTypedData({
    domain: channelsDomain(chainId, paymentChannels),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receiptArg(r),
  });
  return { ...receiptArg(r), signature };
}

/** The custom error a call reverted with (its name and args), or throws if it did not revert that way. */
export async function revertOf(call: Promise<unknown>): Promise<{ name: string; args: readonly unknown[] }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof BaseError) {
      const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
      if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
        return { name: reverted.data.errorName, args: reverted.data.args ?? [] };
      }
    }
    throw error;
  }
  throw new Error("the call did not revert");
}

export const flip = (h: Hex): Hex => `0x${(BigInt(h) ^ 1n).toString(16).padStart(64, "0")}` as Hex;
