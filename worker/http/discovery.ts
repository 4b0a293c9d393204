// What the worker tells agents about its offerings: the bazaar extension carried by every 402 of the paid route,
// and GET /discovery/resources, the list of its paid resources (the HTTP route and the MCP tool of every model)
// in the shape of x402's discovery API, each with accepts, price, model id/name/hash, input/output JSON Schemas
// built from the ONNX metadata, and health.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  BAZAAR,
  fitBazaar,
  httpBazaar,
  inferToolName,
  mcpBazaar,
  MCP_PATH,
  parseDiscoveryQuery,
  type BazaarExtension,
  type DiscoveredResource,
  type DiscoveryList,
} from "@edgepay/protocol/discovery";
import { X402_VERSION } from "@edgepay/protocol/x402";
import type { AppContext, ServedModel } from "./app.ts";
import { requirements } from "./app.ts";
import { HttpError, sendJson } from "./io.ts";
import { acceptsOf } from "./x402.ts";
import { exactAccept } from "./x402-exact.ts";

/** Built once per model: the ONNX metadata does not change while the worker runs. */
const httpExt = new WeakMap<ServedModel, BazaarExtension>();
const mcpExt = new WeakMap<ServedModel, BazaarExtension>();

export function httpBazaarOf(model: ServedModel): BazaarExtension {
  let ext = httpExt.get(model);
  if (!ext) httpExt.set(model, (ext = httpBazaar(model.runtime)));
  return ext;
}

export function mcpBazaarOf(model: ServedModel): BazaarExtension {
  let ext = mcpExt.get(model);
  if (!ext) mcpExt.set(model, (ext = mcpBazaar(model.runtime)));
  return ext;
}

/** `extensions` of a 402 of the paid HTTP route for the model with this id (none for an id the worker lacks). */
export function httpExtensions(ctx: AppContext, modelId: string): Record<string, unknown> | undefined {
  const model = ctx.models.get(modelId);
  return model ? { [BAZAAR]: fitBazaar(httpBazaarOf(model)) } : undefined;
}

/** The origin agents reach this worker at, as the Host header names it (what x402's resource URLs use too). */
export function originOf(req: IncomingMessage): string {
  return `http://${(req.headers.host ?? "localhost").slice(0, 255)}`;
}

/** Every resource of the worker: the HTTP route, then the MCP tool, per model in id order. */
export function discoveryItems(ctx: AppContext, origin: string): DiscoveredResource[] {
  const health = { reachable: true as const, status: "ok", ...ctx.health() };
  const now = Math.floor(Date.now() / 1000);
  const models = [...ctx.models.values()].sort((a, b) => (a.runtime.modelId < b.runtime.modelId ? -1 : 1));
  return models.flatMap((m) => {
    const id = m.runtime.modelId.toString();
    const accepts = acceptsOf(ctx.device.publicKey, requirements(ctx, m, undefined), exactAccept(ctx.exact, id));
    const metadata = {
      provider: "edgepay" as const,
      device: ctx.device.address,
      chainId: ctx.chainId,
      paymentChannels: ctx.config.contracts.paymentChannels,
      modelId: id,
      name: m.runtime.name,
      modelHash: m.runtime.hash,
      token: m.token,
      price: m.price.toString(),
      unit: m.unit,
      royaltyBps: m.royaltyBps,
      inputs: m.runtime.inputs,
      outputs: m.runtime.outputs,
      health,
    };
    return [
      { resource: `${origin}/v1/infer/${id}`, type: "http" as const, x402Version: X402_VERSION, accepts, lastUpdated: now, metadata, extensions: { [BAZAAR]: httpBazaarOf(m) } },
      {
        resource: `${origin}${MCP_PATH}`,
        type: "mcp" as const,
        x402Version: X402_VERSION,
        accepts,
        lastUpdated: now,
        metadata: { ...metadata, tool: inferToolName(id) },
        extensions: { [BAZAAR]: mcpBazaarOf(m) },
      },
    ];
  });
}

/** GET /discovery/resources?type=&limit=&offset= */
export function handleDiscovery(ctx: AppContext, req: IncomingMessage, res: ServerResponse, query: URLSearchParams) {
  const q = parseDiscoveryQuery(query);
  if (!q.ok) throw new HttpError("bad_request", q.message);
  const all = discoveryItems(ctx, originOf(req)).filter((i) => q.type === undefined || i.type === q.type);
  const list: DiscoveryList = { x402Version: X402_VERSION, items: all.slice(q.offset, q.offset + q.limit), pagination: { limit: q.limit, offset: q.offset, total: all.length } };
  sendJson(res, 200, list);
}
