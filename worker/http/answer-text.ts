// The paid answer's JSON text around outputs that are already JSON (they were serialised once, for storage too):
// byte for byte what JSON.stringify gives for the whole InferResponseWire, keys in the same order.
import type { InferResponseWire } from "@edgepay/protocol/wire";

export function paidAnswerText(outputsJson: string, rest: Omit<InferResponseWire, "outputs">): string {
  // `rest` serialises as {"receipt":...}; its opening brace gives way to the outputs member.
  return `{"outputs":${outputsJson},${JSON.stringify(rest).slice(1)}`;
}
