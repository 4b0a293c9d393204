// The tools an agent sees. Paying goes through the buyer client only; this file adds the operator's budget (asked
// by the buyer before every deposit and voucher) and turns results and failures into MCP tool results.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { CLS_LABELS, initialVadState, sileroVadInputs } from "../protocol/client/inputs.ts";
import type { Buyer, InferResult } from "../protocol/client/index.ts";
import { tensorMapWire, tensorToWire, type Tensor } from "../protocol/tensors.ts";
import { costOf, unitsOf, type UnitRule } from "../protocol/units.ts";
import type { Budget } from "./budget.ts";
import { failureResult, okResult, ToolFailure, type ToolResult } from "./errors.ts";
import { resolveInput } from "./inputs.ts";
import type { Market } from "./market.ts";

export interface ToolContext {
  buyer: Buyer;
  market: Market;
  budget: Budget;
  payer?: Address;
  /** Deposit of a channel opened when none has credit (token base units); none: never open one. */
  deposit?: bigint;
  /** When set, `file` paths must lie inside this directory. */
  filesDir?: string;
}

const modelId = z.union([z.number().int().positive(), z.string().regex(/^[1-9][0-9]{0,30}$/)]).describe("model id from list_models");
const channelId = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 32-byte channel id (0x + 64 hex)");
const url = z.string().url().refine((u) => /^https?:\/\//.test(u), "an http(s) URL");

async function guarded(run: () => Promise<ToolResult>): Promise<ToolResult> {
  try {
    return await run();
  } catch (error) {
    return failureResult(error);
  }
}

export function registerTools(server: McpServer, ctx: ToolContext): void {
  const { buyer, market, budget } = ctx;

  server.registerTool(
    "list_models",
    { title: "List models", description: "Models published in the on-chain ModelRegistry, with every device's price per unit of work (token base units).", inputSchema: {} },
    () => guarded(async () => {
      const models = await market.models();
      return okResult(`${models.length} model(s)`, { models });
    }),
  );

  server.registerTool(
    "list_devices",
    {
      title: "List devices",
      description: "Devices in the on-chain DeviceRegistry with their on-chain offerings, plus what each worker answers now (/v1/offerings checked against the chain, /healthz).",
      inputSchema: { model_id: modelId.optional() },
    },
    (args) => guarded(async () => {
      const devices = await market.devices(args.model_id === undefined ? {} : { modelId: BigInt(args.model_id) });
      const healthy = devices.filter((d) => d.live.reachable && d.live.healthy).length;
      return okResult(`${devices.length} device(s), ${healthy} reachable and healthy`, { devices });
    }),
  );

  server.registerTool(
    "list_offerings",
    {
      title: "List paid resources (x402 discovery)",
      description:
        "Every device's paid resources in x402's discovery shape (the same listing as `npm run market -- list --json`): per model the HTTP route and the worker's MCP tool, with accepts, price, model hash, input/output JSON Schemas and health; devices that do not answer are listed as unreachable.",
      inputSchema: { model_id: modelId.optional() },
    },
    (args) => guarded(async () => {
      const listing = await market.listing(args.model_id === undefined ? {} : { modelId: BigInt(args.model_id) });
      const down = listing.devices.filter((d) => !d.reachable).length;
      return okResult(`${listing.items.length} paid resource(s) on ${listing.devices.length - down} reachable device(s), ${down} unreachable`, listing as unknown as Record<string, unknown>);
    }),
  );

  server.registerTool(
    "infer",
    {
      title: "Run a paid inference",
      description:
        "Runs a model on an Edgepay device and pays it from a payment channel (one is opened with the operator's deposit when none has credit). " +
        "Give `inputs` as JSON tensors ({name: {type, dims, data}}) or `file`: a .wav (16 kHz mono PCM, voice activity per 32 ms frame), a .png (text direction) or a .json tensor file. " +
        "Spending is capped by the operator's budget (per call, per hour, total); a refusal is error code budget_exceeded and nothing is paid.",
      inputSchema: {
        model_id: modelId,
        inputs: tensorMapWire.optional(),
        file: z.string().min(1).max(4096).optional(),
        worker: url.optional().describe("worker URL; default: healthy devices offering the model, cheapest first"),
        channel_id: channelId.optional().describe("pay from exactly this channel"),
        max_frames: z.number().int().positive().max(10_000).optional().describe("audio: frames to classify (default all)"),
      },
    },
    (args) => guarded(async () => {
      const model = BigInt(args.model_id);
      const input = await resolveInput(args, ctx.filesDir);
      const workers = args.worker ? [args.worker] : await market.workersFor(model);
      if (workers.length === 0) throw new ToolFailure("no_device", `no active, healthy device offers model ${model}; see list_devices`);
      // Asked by the buyer before a deposit and before each voucher: the budget check is the last step before money moves.
      const authorize = budget.authorizer();
      const autoOpen = ctx.deposit !== undefined && !args.channel_id ? { deposit: ctx.deposit } : undefined;
      const run = (inputs: Record<string, Tensor>) =>
        buyer.infer(model, inputs, { workers, authorize, ...(autoOpen ? { autoOpen } : {}), ...(args.channel_id ? { channelId: args.channel_id.toLowerCase() as Hex } : {}) });
      if (input.kind === "audio") {
        const frames = input.frames.slice(0, args.max_frames ?? input.frames.length);
        if (frames.length === 0) throw new ToolFailure("bad_input_file", "the audio has no complete 32 ms frame");
        // One paid request per frame: refuse up front a file the caps cannot cover, rather than stop half-way.
        const offer = (await buyer.offerings(workers[0]!)).models.find((m) => BigInt(m.modelId) === model);
        if (offer) {
          const perFrame = costOf(BigInt(offer.price), unitsOf(offer.unit as UnitRule, sileroVadInputs(frames[0]!, initialVadState())));
          budget.check(perFrame * BigInt(frames.length));
        }
        let state = initialVadState();
        const results: InferResult[] = [];
        const probabilities: number[] = [];
        for (const frame of frames) {
          const r = await run(sileroVadInputs(frame, state));
          results.push(r);
          state = r.outputs.stateN ?? state;
          probabilities.push((r.outputs.output?.data as Float32Array | undefined)?.[0] ?? 0);
        }
        const speech = probabilities.map((p) => (p >= 0.5 ? "#" : ".")).join("");
        return okResult(`speech per 32 ms frame (# = speech): ${speech}; ${paidLine(results)}`, { kind: "audio", frames: probabilities.length, probabilities, ...paid(results) });
      }
      const result = await run(input.inputs);
      if (input.kind === "image") {
        const probs = result.outputs[Object.keys(result.outputs)[0]!]!.data as Float32Array;
        const best = probs[1]! > probs[0]! ? 1 : 0;
        return okResult(`text direction ${CLS_LABELS[best]} (p=${probs[best]!.toFixed(3)}); ${paidLine([result])}`, {
          kind: "image",
          direction: CLS_LABELS[best],
          probability: probs[best],
          ...paid([result]),
        });
      }
      const outputs = Object.fromEntries(Object.entries(result.outputs).map(([k, t]) => [k, tensorToWire(t)]));
      return okResult(paidLine([result]), { kind: "tensors", outputs, ...paid([result]) });
    }),
  );

  server.registerTool(
    "channels",
    { title: "Channels and credit", description: "The payer's payment channels with deposit, claimed and remaining credit, plus the operator's budget left.", inputSchema: {} },
    () => guarded(async () => {
      const list = await buyer.channels(ctx.payer);
      const inDoubt = await buyer.inDoubt();
      const channels = list.map((c) => ({
        channelId: c.channelId,
        status: c.status,
        device: c.terms.device,
        modelId: c.terms.modelId,
        token: c.terms.token,
        price: c.terms.price,
        deposit: c.state.deposit,
        claimed: c.state.claimed,
        paid: c.paid,
        remaining: c.remaining,
        canPay: c.hasKey,
      }));
      const b = budget.status();
      return okResult(`${channels.length} channel(s); budget left: ${b.remaining.total} total, ${b.remaining.hour} this hour`, {
        channels,
        inDoubt: inDoubt.map((p) => ({ channelId: p.channelId, amount: p.amount, cost: p.cost, endpoint: p.endpoint })),
        budget: b,
      });
    }),
  );

  server.registerTool(
    "receipts",
    { title: "Receipts", description: "Device-signed receipts kept for this payer, with the client's verification of each.", inputSchema: { channel_id: channelId.optional(), limit: z.number().int().positive().max(1000).optional() } },
    (args) => guarded(async () => {
      const all = await buyer.receipts(args.channel_id ? { channelId: args.channel_id.toLowerCase() as Hex } : {});
      const list = all.slice(-(args.limit ?? 100));
      return okResult(`${all.length} receipt(s)${list.length < all.length ? `, the last ${list.length} shown` : ""}`, {
        total: all.length,
        receipts: list.map((r) => ({ ...r.receipt, device: r.device, endpoint: r.endpoint, price: r.price, verification: r.verification, receivedAt: r.receivedAt })),
      });
    }),
  );

  server.registerTool(
    "close_channel",
    {
      title: "Close a channel",
      description: "Settles a channel at once with the device's signature (cooperative, the default: the rest is refunded in the same transaction), or starts the challenge period.",
      inputSchema: { channel_id: channelId, cooperative: z.boolean().optional(), worker: url.optional() },
    },
    (args) => guarded(async () => {
      const id = args.channel_id.toLowerCase() as Hex;
      if (args.cooperative === false) {
        const hash = await buyer.requestClose(id);
        return okResult(`close requested for ${id}; withdraw after the challenge period`, { channelId: id, tx: hash, cooperative: false });
      }
      const { hash, amount } = await buyer.closeCooperatively(id, args.worker);
      return okResult(`settled ${id} at ${amount} token units paid; the rest was refunded`, { channelId: id, tx: hash, paid: amount, cooperative: true });
    }),
  );

  server.registerTool(
    "budget",
    { title: "Budget", description: "The operator's caps (token base units) and what agents have spent under them.", inputSchema: {} },
    () => guarded(async () => {
      const b = budget.status();
      return okResult(`spent ${b.spentTotal} of ${b.caps.total}; ${b.spentLastHour} of ${b.caps.perHour} in the last hour; at most ${b.caps.perCall} per call`, { ...b });
    }),
  );
}

function paid(results: InferResult[]) {
  return {
    cost: results.reduce((n, r) => n + r.cost, 0n),
    units: results.reduce((n, r) => n + r.units, 0n),
    answers: results.length,
    receipts: results.map((r) => ({ channelId: r.channelId, device: r.device, sequence: r.receipt.sequence, cumulativeAmount: r.receipt.cumulativeAmount, units: r.units, cost: r.cost })),
  };
}

function paidLine(results: InferResult[]): string {
  const { cost, answers } = paid(results);
  return `paid ${cost} token units for ${answers} answer(s), receipts verified`;
}
