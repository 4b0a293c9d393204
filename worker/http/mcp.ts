// x402's MCP transport on the worker (specs/transports-v2/mcp.md): POST /mcp is a stateless streamable-HTTP MCP
// server with one paid tool per model (`infer_<modelId>`). A tool call is sent through the worker's own paid HTTP
// route over loopback, with `_meta["x402/payment"]` as its PAYMENT-SIGNATURE and the arguments as its body, so
// every payment check (x402 envelope, voucher, channel, MAC over the body, amount, replay) is the one the HTTP
// transport runs and nothing is verified twice. The route's answer is mapped back: a 402 (or a payment refusal)
// becomes the spec's PaymentRequired tool result, a paid answer the outputs with `_meta["x402/payment-response"]`.
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import {
  BAZAAR,
  fitBazaar,
  INFER_TOOL_RE,
  inferToolName,
  inputJsonSchema,
  MCP_ERROR_META,
  MCP_PATH,
  MCP_PAYMENT_META,
  MCP_PAYMENT_RESPONSE_META,
  mcpToolDescription,
} from "@edgepay/protocol/discovery";
import { errorBodyWire, paymentRequiredBodyWire, type ErrorCode } from "@edgepay/protocol/wire";
import {
  decodeX402Header,
  encodeX402Header,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
  X402_MAX_HEADER_CHARS,
  X402_VERSION,
  type X402PaymentRequiredWire,
} from "@edgepay/protocol/x402";
import type { AppContext, ServedModel } from "./app.ts";
import { mcpBazaarOf, originOf } from "./discovery.ts";
import { HttpError, readBody } from "./io.ts";
import { clientAddress } from "./limits.ts";
import { acceptsOf } from "./x402.ts";
import { exactAccept } from "./x402-exact.ts";

/**
 * The loopback request carries the MCP client's address so that the worker's per-client budget of unpaid requests
 * charges that client, not 127.0.0.1 (which every MCP client would then share). The secret never leaves the
 * process, so no outside request can claim another client's address.
 */
const FORWARD_HEADER = "x-edgepay-mcp-client";
const FORWARD_SECRET = randomBytes(16).toString("hex");

/** The client a loopback request from the MCP route is for, or undefined for any other request. */
export function forwardedClient(req: IncomingMessage): string | undefined {
  const raw = req.headers[FORWARD_HEADER];
  if (typeof raw !== "string" || !raw.startsWith(`${FORWARD_SECRET} `)) return undefined;
  return raw.slice(FORWARD_SECRET.length + 1);
}

/** Room for the JSON-RPC envelope and `_meta` around the inputs. */
const ENVELOPE_BYTES = 64 * 1024;

/** POST /mcp (GET and DELETE: 405, the server is stateless and pushes nothing). */
export async function handleMcp(ctx: AppContext, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== "POST") throw new HttpError("method_not_allowed", `use POST ${MCP_PATH} (stateless streamable HTTP), not ${req.method}`);
  const raw = await readBody(req, ctx.config.maxBodyBytes + ENVELOPE_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError("invalid_json", `the ${MCP_PATH} body is not JSON-RPC JSON`);
  }
  const server = mcpServer(ctx, req);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

function mcpServer(ctx: AppContext, req: IncomingMessage): Server {
  const server = new Server({ name: "edgepay-worker", version: "0.1.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...ctx.models.values()].map((m) => ({
      name: inferToolName(m.runtime.modelId),
      title: `${m.runtime.name} (model ${m.runtime.modelId})`,
      description: mcpToolDescription(m.runtime),
      inputSchema: inputJsonSchema(m.runtime.inputs) as { type: "object"; properties?: Record<string, object> },
      _meta: { [BAZAAR]: mcpBazaarOf(m) },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const m = INFER_TOOL_RE.exec(request.params.name);
    const model = m ? ctx.models.get(BigInt(m[1]!).toString()) : undefined;
    if (!model) return failure("unknown_model", `this device has no tool ${request.params.name.slice(0, 80)} (tools: ${[...ctx.models.keys()].map((id) => inferToolName(id)).join(", ")})`);
    return callTool(ctx, req, model, request.params.arguments ?? {}, request.params._meta?.[MCP_PAYMENT_META]);
  });
  return server;
}

async function callTool(ctx: AppContext, req: IncomingMessage, model: ServedModel, args: Record<string, unknown>, payment: unknown): Promise<CallToolResult> {
  const id = model.runtime.modelId.toString();
  // The body the payment's MAC covers: the arguments exactly as JSON.stringify writes them (key order kept).
  const body = Buffer.from(JSON.stringify(args), "utf8");
  const headers: Record<string, string> = { "content-type": "application/json", [FORWARD_HEADER]: `${FORWARD_SECRET} ${clientAddress(req.socket)}` };
  if (req.headers.host) headers.host = req.headers.host;
  let oversized: string | undefined;
  if (payment !== undefined) {
    const sig = encodeX402Header(payment);
    if (sig.length > X402_MAX_HEADER_CHARS) oversized = `_meta["${MCP_PAYMENT_META}"] encodes to ${sig.length} base64 characters, the limit is ${X402_MAX_HEADER_CHARS}`;
    else headers[PAYMENT_SIGNATURE_HEADER] = sig;
  }
  // Without a payment the route refuses from the headers alone; the body is not sent for nothing.
  const paying = headers[PAYMENT_SIGNATURE_HEADER] !== undefined;
  const answer = await loopback(req, `/v1/infer/${id}`, headers, paying ? body : Buffer.alloc(0));
  const text = answer.body.toString("utf8");
  if (answer.status === 200) {
    const settled = decodeX402Header(answer.headers[PAYMENT_RESPONSE_HEADER] ?? "");
    const structured = JSON.parse(text) as Record<string, unknown>;
    return { content: [{ type: "text", text }], structuredContent: structured, _meta: settled.ok ? { [MCP_PAYMENT_RESPONSE_META]: settled.value } : {} };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return failure("internal_error", `the paid route answered ${answer.status} without JSON`);
  }
  const refused = paymentRequiredBodyWire.safeParse(parsed);
  if (refused.success) {
    const { code, message } = refused.data.error;
    const required: X402PaymentRequiredWire = {
      x402Version: X402_VERSION,
      error: oversized ?? message,
      resource: { url: `${originOf(req)}${MCP_PATH}`, description: mcpToolDescription(model.runtime), mimeType: "application/json" },
      accepts: acceptsOf(ctx.device.publicKey, refused.data.payment, exactAccept(ctx.exact, refused.data.payment.modelId)),
      extensions: { [BAZAAR]: fitBazaar(mcpBazaarOf(model)) },
    };
    return {
      isError: true,
      structuredContent: required,
      content: [{ type: "text", text: JSON.stringify(required) }],
      _meta: { [MCP_ERROR_META]: { code: oversized ? "x402_malformed" : code, message: oversized ?? message } },
    };
  }
  const error = errorBodyWire.safeParse(parsed);
  if (error.success) return failure(error.data.error.code, error.data.error.message);
  return failure("internal_error", `the paid route answered ${answer.status} with an unknown body`);
}

function failure(code: ErrorCode, message: string): CallToolResult {
  const body = { error: { code, message } };
  return { isError: true, content: [{ type: "text", text: JSON.stringify(body) }], structuredContent: body, _meta: { [MCP_ERROR_META]: body.error } };
}

/** One request to this worker's own listener (the address the MCP request arrived on). */
function loopback(req: IncomingMessage, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: Record<string, string | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      { host: req.socket.localAddress, port: req.socket.localPort, method: "POST", path, headers: { ...headers, "content-length": String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const h: Record<string, string | undefined> = {};
          for (const [k, v] of Object.entries(res.headers)) h[k] = Array.isArray(v) ? v[0] : v;
          resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
        });
        res.on("error", reject);
      },
    );
    out.on("error", reject);
    out.end(body);
  });
}
