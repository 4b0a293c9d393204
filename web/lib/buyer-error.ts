// One sentence for a buyer-client error, saying plainly when the worker failed the identity or sealing checks
// (protocol/client/identity.ts, protocol/sealed.ts): that is a refusal to talk to it, not a network hiccup.
import { EdgepayClientError } from "../../protocol/client/errors.ts";

const IDENTITY: Record<string, string> = {
  device_key_mismatch: "Refused: this worker is not the registered device (its key does not match the device registered on-chain). Nothing was sent or paid.",
  device_not_registered: "Refused: this worker's device is not registered on-chain, so its identity cannot be checked. Nothing was sent or paid.",
  sealed_answer_invalid: "Refused: the worker's answer did not open under this channel's keys (altered on the way, or not from the device). The paid request is kept and recovered from the device.",
};

export function describeBuyerError(e: unknown): string {
  if (e instanceof EdgepayClientError && IDENTITY[e.code]) return `${IDENTITY[e.code]} (${e.code}: ${e.message})`;
  return e instanceof Error ? e.message : String(e);
}
