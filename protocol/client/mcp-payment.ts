// Paying a worker's MCP tool with x402's MCP transport (specs/transports-v2/mcp.md): the tool is called without
// payment, its PaymentRequired result names the edgepay-channel terms, and the call is repeated with an
// edgepay-channel PaymentPayload in `_meta["x402/payment"]`. The Buyer signs the voucher and MAC over exactly the
// arguments' JSON (what the worker's route hashes), and verifies the receipt of the answer. The MCP client is
// passed in as a function, so this file needs no MCP SDK.
import type { z } from "zod";
import { inferToolName, MCP_ERROR_META, MCP_PAYMENT_META, MCP_PAYMENT_RESPONSE_META, MCP_PATH } from "../discovery.ts";
import { tensorToWire, type Tensor, type TensorMapWire } from "../tensors.ts";
import { X402_SCHEME, X402_VERSION, edgepayExtraWire, x402PaymentRequiredWire, x402SettleResponseWire, type X402PaymentRequiredWire } from "../x402.ts";
import type { AutoOpen, Buyer, InferOptions, InferResult } from "./buyer.ts";
import { EdgepayClientError } from "./errors.ts";
import { readInferAnswer } from "./worker-api.ts";

/** The parts of an MCP `tools/call` result this helper reads (the SDK's CallToolResult fits). */
export interface McpToolResult {
  isError?: boolean;
  content?: unknown[];
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

export type McpCallTool = (params: { name: string; arguments: Record<string, unknown>; _meta?: Record<string, unknown> }) => Promise<McpToolResult>;

export interface McpPaidCall {
  /** `client.callTool` of an MCP client connected to `<endpoint>/mcp`. */
  callTool: McpCallTool;
  /** The worker's base URL (its offerings are checked against the chain, as for HTTP). */
  endpoint: string;
  modelId: bigint;
  inputs: Record<string, Tensor>;
  autoOpen?: AutoOpen;
  /** Asked before a deposit and before the voucher is signed (e.g. an agent's budget); throwing refuses. */
  authorize?: InferOptions["authorize"];
}

/** The PaymentRequired of a tool result: structuredContent first, content[0].text as the spec's fallback. */
export function paymentRequiredOf(result: McpToolResult): X402PaymentRequiredWire | undefined {
  const direct = x402PaymentRequiredWire.safeParse(result.structuredContent);
  if (direct.success) return direct.data;
  const first = result.content?.[0] as { type?: unknown; text?: unknown } | undefined;
  if (first?.type !== "text" || typeof first.text !== "string") return undefined;
  try {
    const parsed = x402PaymentRequiredWire.safeParse(JSON.parse(first.text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The worker's stable error code of a failed tool result (`_meta["edgepay/error"]`). */
export function toolErrorOf(result: McpToolResult): { code: string; message: string } | undefined {
  const e = result._meta?.[MCP_ERROR_META] as { code?: unknown; message?: unknown } | undefined;
  return typeof e?.code === "string" ? { code: e.code, message: typeof e.message === "string" ? e.message : "" } : undefined;
}

/**
 * Calls the model's tool, paying from an Edgepay channel. Resolves with the verified answer and the settlement
 * response; a refusal throws EdgepayClientError (worker_rejected with the worker's code), after resynchronising
 * the channel with what the worker reports. A lost answer leaves the payment in doubt (Buyer.recover).
 */
export async function callPaidTool(buyer: Buyer, call: McpPaidCall): Promise<InferResult & { settlement: z.output<typeof x402SettleResponseWire> }> {
  const name = inferToolName(call.modelId);
  const wire: TensorMapWire = {};
  for (const [k, t] of Object.entries(call.inputs)) wire[k] = tensorToWire(t);
  const args = { inputs: wire };
  // The worker hashes JSON.stringify of the arguments it received, which is this text (same keys, same order).
  const body = new TextEncoder().encode(JSON.stringify(args));
  const unpaid = await call.callTool({ name, arguments: args });
  const required = paymentRequiredOf(unpaid);
  if (!unpaid.isError || !required) {
    const e = toolErrorOf(unpaid);
    throw new EdgepayClientError("bad_worker_response", `${call.endpoint}${MCP_PATH}: tool ${name} did not ask for payment${e ? ` (${e.code}: ${e.message})` : ""}`);
  }
  const accepted = required.accepts.find((a) => a.scheme === X402_SCHEME);
  if (!accepted) throw new EdgepayClientError("offering_mismatch", `${call.endpoint}${MCP_PATH}: tool ${name} does not accept ${X402_SCHEME}`);
  // The Buyer checks the worker's offerings against the chain; the 402's terms only name the scheme's envelope.
  const payment = await buyer.preparePayment(call.endpoint, call.modelId, call.inputs, body, "json", call.autoOpen, call.authorize);
  const payload = {
    x402Version: X402_VERSION,
    resource: required.resource,
    accepted,
    payload: { voucher: payment.voucher, mac: payment.mac, bodySha256: payment.bodyHash },
    // Echoed as bazaar.md asks of clients (the worker bounds the 402's copy so the echo fits its 8 KiB limit).
    ...(required.extensions ? { extensions: required.extensions } : {}),
  };
  let result: McpToolResult;
  try {
    result = await call.callTool({ name, arguments: args, _meta: { [MCP_PAYMENT_META]: payload } });
  } catch (error) {
    await payment.inDoubt((error as Error).message);
    throw error;
  }
  if (!result.isError) {
    const settled = x402SettleResponseWire.safeParse(result._meta?.[MCP_PAYMENT_RESPONSE_META]);
    const text = JSON.stringify(result.structuredContent ?? null);
    const answer = await readInferAnswer(new Response(text, { status: 200, headers: { "content-type": "application/json" } }), call.endpoint).catch(async (error: unknown) => {
      await payment.inDoubt((error as Error).message);
      throw error;
    });
    if (answer.kind !== "ok") throw new EdgepayClientError("bad_worker_response", `${call.endpoint}${MCP_PATH}: a successful tool result is not an answer`);
    const verified = await payment.accept(answer.body);
    if (!settled.success || !settled.data.success) throw new EdgepayClientError("bad_worker_response", `${call.endpoint}${MCP_PATH}: the answer lacks _meta["${MCP_PAYMENT_RESPONSE_META}"]`);
    return { ...verified, settlement: settled.data };
  }
  const e = toolErrorOf(result) ?? { code: "unknown", message: "tool error without a code" };
  const again = paymentRequiredOf(result);
  const terms = again?.accepts.find((a) => a.scheme === X402_SCHEME);
  const extra = terms ? edgepayExtraWire.safeParse(terms.extra) : undefined;
  if (extra?.success) {
    const { devicePublicKey: _key, ...native } = extra.data;
    await payment.refused({ scheme: X402_SCHEME, ...native });
  } else {
    payment.release();
  }
  throw new EdgepayClientError("worker_rejected", `${call.endpoint}${MCP_PATH}: ${e.code}: ${e.message}`, { workerCode: e.code });
}
