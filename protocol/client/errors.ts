// Errors of the buyer client: one class with a stable snake_case `code`, plus a decoder that turns contract
// reverts into readable sentences ("ChannelClosing(channelId=0x.., closesAt=1700000000)").
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Abi, type Hex } from "viem";
import { answerDisputesAbi, deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../generated/contracts.ts";

export const CLIENT_ERROR_CODES = [
  /** The worker could not be reached or kept failing (network error, timeout, 5xx): try another device. */
  "worker_unreachable",
  /** The worker answered something that does not follow the protocol. */
  "bad_worker_response",
  /** The worker's offerings do not match the chain (other chain id, contract, device key or price). */
  "offering_mismatch",
  /** The worker does not offer the model. */
  "model_not_offered",
  /** No usable channel with enough credit, and none may be opened automatically. */
  "no_channel",
  /** The channel's credit is used up. */
  "insufficient_credit",
  /** The worker claims an amount this client never signed. */
  "worker_overclaims",
  /** The worker rejected the request with a JSON error (see `workerCode`). */
  "worker_rejected",
  /** The answer's receipt failed verification (see `reason`); the payment was made. */
  "receipt_rejected",
  /** A transaction reverted or could not be sent (message decoded from the contract's custom error). */
  "transaction_failed",
  /** A required argument or the client's configuration is wrong. */
  "bad_argument",
  /** Every listed worker failed. */
  "all_workers_failed",
  /**
   * The request was sent and paid, but the connection dropped before its answer: the device may have answered and
   * may claim the voucher. The request is kept in the store (ChannelRecord.inDoubt) and not sent to another
   * device; `Buyer.recover` gets the paid answer back once the device answers again.
   */
  "answer_in_doubt",
  /**
   * The worker's device key is not the device the client checked on-chain: the offered public key does not hash to
   * the offered device address, or that address is not the device expected (the channel's, or the one the caller
   * named from the DeviceRegistry). Nothing is sent to it.
   */
  "device_key_mismatch",
  /** The offered device address has no registration in the DeviceRegistry: there is no identity to check it against. */
  "device_not_registered",
  /** An answer to a sealed request is not sealed, or does not open under the channel's keys (altered on the way). */
  "sealed_answer_invalid",
  /**
   * The device failed a spot check (protocol/client/spot-check.ts) and is quarantined: no new voucher is signed to it
   * until `Buyer.clearQuarantine` (or, later, a dispute clears it). Nothing was signed or sent.
   */
  "device_quarantined",
  /**
   * The answer was paid, but a spot check found it wrong under the model's tolerance (see `reason`): do not use its
   * outputs. The device is now quarantined; the receipt, inputs and both outputs are kept as evidence.
   */
  "spot_check_failed",
  /**
   * A wrong-answer dispute was not opened because the chain would refuse it or it cannot succeed (see `reason`:
   * within_tolerance, dispute_exists, no_evidence, bad_evidence, ...). Checked before any transaction: nothing was spent.
   */
  "dispute_refused",
] as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

export class EdgepayClientError extends Error {
  readonly code: ClientErrorCode;
  /** The worker's stable error code when the worker answered with a JSON error. */
  readonly workerCode?: string;
  /** Verification reason for `receipt_rejected`. */
  readonly reason?: string;
  /** HTTP status of the worker's answer, when there was one. */
  readonly status?: number;
  constructor(code: ClientErrorCode, message: string, extra: { workerCode?: string; reason?: string; status?: number; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "EdgepayClientError";
    this.code = code;
    this.workerCode = extra.workerCode;
    this.reason = extra.reason;
    this.status = extra.status;
  }
}

const KNOWN_ABIS: readonly Abi[] = [paymentChannelsAbi, deviceRegistryAbi, modelRegistryAbi, answerDisputesAbi, testUsdcAbi];

/** Decodes revert data against every Edgepay contract ABI; undefined when no error matches. */
export function decodeEdgepayRevert(data: Hex): string | undefined {
  for (const abi of KNOWN_ABIS) {
    try {
      const decoded = decodeErrorResult({ abi, data });
      return formatError(decoded.errorName, decoded.abiItem && "inputs" in decoded.abiItem ? decoded.abiItem.inputs : [], decoded.args ?? []);
    } catch {
      // not this contract's error
    }
  }
  return undefined;
}

/**
 * A readable one-line description of an error thrown by a viem contract call: the contract's custom error with
 * named arguments when the revert could be decoded, else viem's short message.
 */
export function describeContractError(error: unknown): string {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      if (reverted.data?.errorName) {
        const inputs = reverted.data.abiItem && "inputs" in reverted.data.abiItem ? reverted.data.abiItem.inputs : [];
        return formatError(reverted.data.errorName, inputs, reverted.data.args ?? []);
      }
      if (reverted.raw) return decodeEdgepayRevert(reverted.raw) ?? `reverted with unknown data ${reverted.raw}`;
      if (reverted.reason) return `reverted: ${reverted.reason}`;
    }
    return error.shortMessage;
  }
  return error instanceof Error ? error.message : String(error);
}

function formatError(name: string, inputs: readonly { name?: string }[], args: readonly unknown[]): string {
  const parts = args.map((a, i) => `${inputs[i]?.name || `arg${i}`}=${typeof a === "bigint" ? a.toString() : String(a)}`);
  return `${name}(${parts.join(", ")})`;
}
