// Discovery of paid models for agents, in x402's own shapes: the `bazaar` extension of a 402
// (x402-foundation/x402 specs/extensions/bazaar.md: `info` with the call's input and output, `schema` a JSON Schema
// of `info`), the discovery list of specs/x402-specification-v2.md section 8 (`x402Version`, `items`,
// `pagination`), and the `_meta` keys of the MCP transport (specs/transports-v2/mcp.md). The JSON Schemas of a
// model's tensors are built from its ONNX input and output metadata, so what an agent reads is what the worker
// checks.
import { z } from "zod";
import { tensorSpecWire } from "./wire.ts";
import { X402_VERSION, x402RequirementsWire } from "./x402.ts";

export const BAZAAR = "bazaar";
export const JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema";
/** The worker's list of its own resources, in the shape of a facilitator's `GET /discovery/resources`. */
export const DISCOVERY_PATH = "/discovery/resources";
/** The worker's MCP endpoint (streamable HTTP): one paid tool per model. */
export const MCP_PATH = "/mcp";
export const MCP_PAYMENT_META = "x402/payment";
export const MCP_PAYMENT_RESPONSE_META = "x402/payment-response";
/** Our stable error code beside a tool result's PaymentRequired (whose `error` is free text). */
export const MCP_ERROR_META = "edgepay/error";
/** Page size limits of the discovery list (spec: 1-100, default 20). */
export const DISCOVERY_MAX_LIMIT = 100;
export const DISCOVERY_DEFAULT_LIMIT = 20;

/** The MCP tool that runs model `modelId` on a worker. */
export const inferToolName = (modelId: bigint | string) => `infer_${modelId.toString()}`;
export const INFER_TOOL_RE = /^infer_([0-9]{1,78})$/;

type JsonSchema = Record<string, unknown>;
export type TensorSpec = z.infer<typeof tensorSpecWire>;

/** JSON Schema of one element of a tensor of ONNX type `type` on the wire (int64 may be a decimal string). */
function elementSchema(type: string): JsonSchema {
  const t = type.toLowerCase();
  if (t === "float32" || t === "float64" || t === "float16") return { type: "number" };
  if (t === "int64" || t === "uint64") return { anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]{1,20}$" }] };
  if (t === "bool") return { type: "integer", enum: [0, 1] };
  return { type: "integer" };
}

/** JSON Schema of one wire tensor `{type, dims, data}` with this spec: fixed sizes are constants. */
export function tensorJsonSchema(spec: TensorSpec): JsonSchema {
  const known = spec.dims.map((d) => typeof d === "number" && d >= 0);
  // No descriptions: x402 clients echo the extension into PAYMENT-SIGNATURE, so every byte here is sent twice.
  return {
    type: "object",
    properties: {
      type: { type: "string", const: spec.type },
      dims: {
        type: "array",
        prefixItems: spec.dims.map((d, i) => (known[i] ? { const: d } : { type: "integer", minimum: 0 })),
        minItems: spec.dims.length,
        maxItems: spec.dims.length,
      },
      data: { type: "array", items: elementSchema(spec.type) },
    },
    required: ["type", "dims", "data"],
    additionalProperties: false,
  };
}

const mapSchema = (specs: TensorSpec[]): JsonSchema => ({
  type: "object",
  properties: Object.fromEntries(specs.map((s) => [s.name, tensorJsonSchema(s)])),
  required: specs.map((s) => s.name),
  additionalProperties: false,
});

/** JSON Schema of a request body (and of the MCP tool's arguments): `{ "inputs": { <name>: tensor } }`. */
export function inputJsonSchema(inputs: TensorSpec[]): JsonSchema {
  return { type: "object", properties: { inputs: mapSchema(inputs) }, required: ["inputs"], additionalProperties: false };
}

/** JSON Schema of a paid answer: the output tensors plus the device-signed receipt and the charge. */
export function outputJsonSchema(outputs: TensorSpec[]): JsonSchema {
  const uint = { type: "string", pattern: "^[0-9]{1,78}$" };
  return {
    type: "object",
    properties: {
      outputs: mapSchema(outputs),
      receipt: { type: "object" },
      price: uint,
      units: { type: "integer", minimum: 1 },
      cost: uint,
    },
    required: ["outputs", "receipt", "price", "units", "cost"],
  };
}

/**
 * Largest example the extension carries (elements over all inputs). A client echoes the extension into its
 * PAYMENT-SIGNATURE, which the worker bounds at 8 KiB; a bigger example keeps its dims with an empty `data` (the
 * schema gives the element type, data holds the product of dims values, row-major).
 */
const EXAMPLE_MAX_ELEMENTS = 64;

/** A request body that fits the inputs' schema: zeros, dynamic sizes as 1. */
export function exampleInputs(inputs: TensorSpec[]): { inputs: Record<string, { type: string; dims: number[]; data: number[] }> } {
  const dimsOf = (s: TensorSpec) => s.dims.map((d) => (typeof d === "number" && d >= 0 ? d : 1));
  const total = inputs.reduce((n, s) => n + dimsOf(s).reduce((a, b) => a * b, 1), 0);
  return {
    inputs: Object.fromEntries(
      inputs.map((s) => {
        const dims = dimsOf(s);
        const count = dims.reduce((a, b) => a * b, 1);
        return [s.name, { type: s.type, dims, data: total <= EXAMPLE_MAX_ELEMENTS ? new Array<number>(count).fill(0) : [] }];
      }),
    ),
  };
}

const outputPart = (outputs: TensorSpec[]) => ({
  type: "object",
  properties: { type: { type: "string" }, format: { type: "string" }, example: outputJsonSchema(outputs) },
  required: ["type"],
});

/** The bazaar extension of the paid HTTP route `POST /v1/infer/:modelId` (a body method, bodyType json). */
export function httpBazaar(model: { inputs: TensorSpec[]; outputs: TensorSpec[] }): BazaarExtension {
  return {
    info: {
      input: { type: "http", method: "POST", bodyType: "json", body: exampleInputs(model.inputs) },
      output: { type: "json", format: "edgepay-infer-response" },
    },
    schema: {
      $schema: JSON_SCHEMA_2020_12,
      type: "object",
      properties: {
        input: {
          type: "object",
          properties: {
            type: { type: "string", const: "http" },
            method: { type: "string", enum: ["POST"] },
            bodyType: { type: "string", enum: ["json"] },
            body: inputJsonSchema(model.inputs),
            queryParams: { type: "object", additionalProperties: { type: "string" } },
            headers: { type: "object", additionalProperties: { type: "string" } },
          },
          required: ["type", "method", "bodyType", "body"],
          additionalProperties: false,
        },
        output: outputPart(model.outputs),
      },
      required: ["input"],
    },
  };
}

/** The bazaar extension of the model's MCP tool (resource URL: the worker's /mcp; the tool is `infer_<modelId>`). */
export function mcpBazaar(model: { modelId: bigint | string; name: string; inputs: TensorSpec[]; outputs: TensorSpec[] }): BazaarExtension {
  return {
    info: {
      input: {
        type: "mcp",
        tool: inferToolName(model.modelId),
        description: mcpToolDescription(model),
        transport: "streamable-http",
        inputSchema: inputJsonSchema(model.inputs),
        example: exampleInputs(model.inputs),
      },
      output: { type: "json", format: "edgepay-infer-response" },
    },
    schema: {
      $schema: JSON_SCHEMA_2020_12,
      type: "object",
      properties: {
        input: {
          type: "object",
          properties: {
            type: { type: "string", const: "mcp" },
            tool: { type: "string" },
            description: { type: "string" },
            transport: { type: "string", enum: ["streamable-http", "sse"] },
            inputSchema: { type: "object" },
            example: { type: "object" },
          },
          required: ["type", "tool", "inputSchema"],
          additionalProperties: false,
        },
        output: outputPart(model.outputs),
      },
      required: ["input"],
    },
  };
}

export function mcpToolDescription(model: { modelId: bigint | string; name: string }): string {
  return `Run ONNX model ${model.modelId} (${model.name}) on this edge device; paid per call with an x402 edgepay-channel payment in _meta["x402/payment"]; answers the output tensors and a device-signed receipt.`;
}

// ------------------------------------------------------------------------------------------------ wire shapes

const stringMap = z.record(z.string(), z.string());
const jsonSchemaWire = z.record(z.string(), z.unknown());

/** `info.input` for a body method (bazaar.md "Body Methods"). */
export const bazaarHttpBodyInputWire = z.strictObject({
  type: z.literal("http"),
  method: z.enum(["POST", "PUT", "PATCH"]),
  bodyType: z.enum(["json", "form-data", "text"]),
  body: z.union([z.record(z.string(), z.unknown()), z.string()]),
  queryParams: stringMap.optional(),
  headers: stringMap.optional(),
  pathParams: stringMap.optional(),
});

/** `info.input` for an MCP tool (bazaar.md "MCP Tools"). */
export const bazaarMcpInputWire = z.strictObject({
  type: z.literal("mcp"),
  tool: z.string().min(1),
  description: z.string().optional(),
  transport: z.enum(["streamable-http", "sse"]).optional(),
  inputSchema: jsonSchemaWire.refine((s) => s.type === "object", "inputSchema must have type object"),
  example: z.record(z.string(), z.unknown()).optional(),
});

export const bazaarOutputWire = z.object({ type: z.string().min(1), format: z.string().optional(), example: z.unknown().optional() });

export const bazaarExtensionWire = z.object({
  info: z.object({ input: z.union([bazaarHttpBodyInputWire, bazaarMcpInputWire]), output: bazaarOutputWire.optional() }),
  schema: z.object({
    $schema: z.literal(JSON_SCHEMA_2020_12),
    type: z.literal("object"),
    properties: z.object({ input: jsonSchemaWire, output: jsonSchemaWire.optional() }).loose(),
    required: z.array(z.string()).refine((r) => r.includes("input"), "schema must require input"),
  }),
  routeTemplate: z.string().optional(),
});
export type BazaarExtension = z.input<typeof bazaarExtensionWire>;

/** What a device says about one of its offerings besides x402's fields (a discovered resource's `metadata`). */
export const edgepayResourceMetadataWire = z.object({
  provider: z.literal("edgepay"),
  device: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  chainId: z.number().int(),
  paymentChannels: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  modelId: z.string().regex(/^[0-9]{1,78}$/),
  name: z.string(),
  /** sha256 of the .onnx file, as registered in the ModelRegistry. */
  modelHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  token: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  /** Price per unit of work (see unit). */
  price: z.string().regex(/^[0-9]{1,78}$/),
  unit: z.unknown(),
  royaltyBps: z.number().int(),
  inputs: z.array(tensorSpecWire),
  outputs: z.array(tensorSpecWire),
  /** The MCP tool name, for `type: "mcp"` items. */
  tool: z.string().optional(),
  /** The worker's /healthz when the list was made; for a device listed from the chain, whether it answered. */
  health: z.union([z.object({ reachable: z.literal(true), status: z.string() }).loose(), z.object({ reachable: z.literal(false), error: z.string() })]),
});
export type EdgepayResourceMetadata = z.infer<typeof edgepayResourceMetadataWire>;

/** One item of the discovery list (x402-specification-v2.md 8.2), with the 402's extensions beside it. */
export const discoveredResourceWire = z.object({
  resource: z.string().min(1),
  type: z.enum(["http", "mcp"]),
  x402Version: z.number().int(),
  accepts: z.array(x402RequirementsWire),
  lastUpdated: z.number().int(),
  metadata: edgepayResourceMetadataWire,
  extensions: z.object({ [BAZAAR]: bazaarExtensionWire }).optional(),
});
export type DiscoveredResource = z.input<typeof discoveredResourceWire>;

export const discoveryListWire = z.object({
  x402Version: z.literal(X402_VERSION),
  items: z.array(discoveredResourceWire),
  pagination: z.object({ limit: z.number().int(), offset: z.number().int(), total: z.number().int() }),
});
export type DiscoveryList = z.input<typeof discoveryListWire>;

/** A device in the market listing: what the chain says, and whether its worker answered. */
export const marketDeviceWire = z.object({
  device: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  status: z.string(),
  endpoint: z.string(),
  /** On-chain offerings (OfferingSet): model, token and price per unit. */
  offers: z.array(z.object({ modelId: z.string(), token: z.string(), price: z.string() })),
  reachable: z.boolean(),
  error: z.string().optional(),
});

/** `npm run market -- list --json`: discovery items of every device, plus the devices (offline ones included). */
export const marketListingWire = discoveryListWire.extend({
  chainId: z.number().int(),
  paymentChannels: z.string(),
  generatedAt: z.number().int(),
  devices: z.array(marketDeviceWire),
});
export type MarketListing = z.input<typeof marketListingWire>;

/** Parses `?type=&limit=&offset=` of the discovery list; a reason for anything else. */
export function parseDiscoveryQuery(params: URLSearchParams): { ok: true; type?: "http" | "mcp"; limit: number; offset: number } | { ok: false; message: string } {
  const type = params.get("type");
  if (type !== null && type !== "http" && type !== "mcp") return { ok: false, message: `type must be http or mcp, not ${type.slice(0, 32)}` };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = params.get(name);
    if (raw === null) return fallback;
    return /^[0-9]{1,6}$/.test(raw) && Number(raw) >= min && Number(raw) <= max ? Number(raw) : undefined;
  };
  const limit = int("limit", DISCOVERY_DEFAULT_LIMIT, 1, DISCOVERY_MAX_LIMIT);
  if (limit === undefined) return { ok: false, message: `limit must be an integer from 1 to ${DISCOVERY_MAX_LIMIT}` };
  const offset = int("offset", 0, 0, 999_999);
  if (offset === undefined) return { ok: false, message: "offset must be a non-negative integer" };
  return { ok: true, ...(type ? { type } : {}), limit, offset };
}

/**
 * Most characters of the bazaar extension a 402 carries. x402 clients echo a 402's extensions into their
 * PAYMENT-SIGNATURE, which the worker reads up to 8 KiB of base64 (X402_MAX_HEADER_CHARS) beside the payment itself
 * (~1.3 KB of JSON with the echoed requirements); 3.5 KiB of extension keeps the whole under 6.5 KiB of base64.
 */
export const BAZAAR_402_MAX_CHARS = 3584;

/**
 * The extension as a 402 carries it: whole when it fits BAZAAR_402_MAX_CHARS, else first without the output's
 * schema, then with a generic body schema too (a model with many tensors); the discovery list always has it whole.
 */
export function fitBazaar(ext: BazaarExtension, maxChars = BAZAAR_402_MAX_CHARS): BazaarExtension {
  if (JSON.stringify(ext).length <= maxChars) return ext;
  const props = ext.schema.properties;
  const withoutOutput: BazaarExtension = { ...ext, schema: { ...ext.schema, properties: { ...props, output: { type: "object", properties: { type: { type: "string" } }, required: ["type"] } } } };
  if (JSON.stringify(withoutOutput).length <= maxChars) return withoutOutput;
  const input = props.input as { properties: Record<string, unknown> };
  const key = "body" in input.properties ? "body" : "inputSchema";
  return {
    ...withoutOutput,
    info: { ...ext.info, input: { ...ext.info.input, ...(key === "body" ? { body: { inputs: {} } } : { example: { inputs: {} } }) } as BazaarExtension["info"]["input"] },
    schema: { ...withoutOutput.schema, properties: { ...withoutOutput.schema.properties, input: { ...input, properties: { ...input.properties, [key]: { type: "object" } } } } },
  };
}
