// Metered pricing: a price is per unit of work, never per request. Each served model declares a unit rule that says
// which input axis counts units (one 512-sample audio frame, one image, ...), how many units one request may carry,
// and the exact or bounded size of every other axis of every input. Worker, buyer client, dashboard and docs share
// this file, so a buyer computes the cost of a request from the published rule before it sends anything:
//   units = dims[rule.input][rule.axis]   (1 when the rule names no input)
//   cost  = units x price                 (the voucher's increment must equal it)
import { z } from "zod";

/**
 * What one axis of an input must be: a number (exactly that size), "units" (equal to the request's unit count:
 * the billing axis itself, or an axis coupled to it such as Silero VAD's state [2, N, 128]), or `{ max }` (any
 * size from 1 to max).
 */
export type AxisRule = number | "units" | { max: number };

export interface UnitRule {
  /** Name of one unit, singular ("frame", "image", "request"). */
  name: string;
  /** Input whose `axis` counts the units; absent: every request is exactly one unit. */
  input?: string;
  axis?: number;
  /** Most units one request may carry; more is refused with 413 too_many_units (nothing is run or stored). */
  maxUnits: number;
  /** Every input's dims, axis by axis. An input absent here must have no dynamic axis. */
  shapes: Record<string, AxisRule[]>;
  /** What a unit is, for people. */
  description?: string;
}

const axisRuleWire = z.union([z.number().int().min(0), z.literal("units"), z.object({ max: z.number().int().positive() })]);

export const unitRuleWire = z
  .object({
    name: z.string().min(1).max(64),
    input: z.string().min(1).optional(),
    axis: z.number().int().min(0).optional(),
    maxUnits: z.number().int().positive().max(1 << 24),
    shapes: z.record(z.string(), z.array(axisRuleWire).max(8)),
    description: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    const problem = ruleProblem(r);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Why a rule is inconsistent in itself, or undefined. */
export function ruleProblem(r: UnitRule): string | undefined {
  if ((r.input === undefined) !== (r.axis === undefined)) return "a unit rule names both `input` and `axis`, or neither";
  if (r.input === undefined) {
    if (r.maxUnits !== 1) return "a rule without a billing input counts one unit per request: maxUnits must be 1";
    for (const [name, dims] of Object.entries(r.shapes)) if (dims.includes("units")) return `shapes.${name} uses "units" but the rule has no billing input`;
    return undefined;
  }
  const billing = r.shapes[r.input];
  if (!billing) return `shapes must describe the billing input "${r.input}"`;
  if (billing[r.axis!] !== "units") return `shapes.${r.input}[${r.axis}] must be "units" (the billing axis)`;
  return undefined;
}

/** One unit per request, for a model whose inputs have no dynamic axis. */
export function perRequestRule(shapes: Record<string, number[]>): UnitRule {
  return { name: "request", maxUnits: 1, shapes, description: "one request (the model has no dynamic axis)" };
}

export class UnitError extends Error {
  readonly code: "too_many_units" | "invalid_tensor";
  readonly tensor?: string;
  readonly units?: number;
  constructor(code: "too_many_units" | "invalid_tensor", message: string, extra: { tensor?: string; units?: number } = {}) {
    super(message);
    this.name = "UnitError";
    this.code = code;
    this.tensor = extra.tensor;
    this.units = extra.units;
  }
}

/**
 * Units of work of a request with these input dims, under `rule`. Throws UnitError: too_many_units above
 * maxUnits, invalid_tensor for zero units or an axis the rule does not allow.
 */
export function countUnits(rule: UnitRule, dims: Record<string, readonly number[]>): number {
  let units = 1;
  if (rule.input !== undefined) {
    const billing = dims[rule.input];
    if (!billing || billing.length <= rule.axis!) {
      throw new UnitError("invalid_tensor", `tensor "${rule.input}" must have axis ${rule.axis} (it counts ${rule.name}s)`, { tensor: rule.input });
    }
    units = billing[rule.axis!]!;
    if (units > rule.maxUnits) {
      throw new UnitError("too_many_units", `${units} ${rule.name}s in one request (tensor "${rule.input}" axis ${rule.axis}); at most ${rule.maxUnits} per request`, {
        tensor: rule.input,
        units,
      });
    }
    if (units < 1) throw new UnitError("invalid_tensor", `tensor "${rule.input}" carries 0 ${rule.name}s; a request carries at least one`, { tensor: rule.input });
  }
  for (const [name, shape] of Object.entries(rule.shapes)) {
    const d = dims[name];
    if (!d) continue; // missing inputs are the model's check
    if (d.length !== shape.length) throw new UnitError("invalid_tensor", `tensor "${name}" has rank ${d.length}, expected [${shape.map(describeAxis).join(", ")}]`, { tensor: name });
    shape.forEach((a, i) => {
      const size = d[i]!;
      const ok = a === "units" ? size === units : typeof a === "number" ? size === a : size >= 1 && size <= a.max;
      if (!ok) {
        throw new UnitError(
          "invalid_tensor",
          `tensor "${name}" has dims [${d.join(", ")}], expected [${shape.map(describeAxis).join(", ")}] with N = ${units} ${rule.name}(s) (axis ${i} is ${size})`,
          { tensor: name },
        );
      }
    });
  }
  return units;
}

/** Cost of a request of `units` units at `price` per unit. */
export function costOf(price: bigint, units: number | bigint): bigint {
  return price * BigInt(units);
}

/** Units of a request, from tensors that carry `dims` (in memory or on the wire). */
export function unitsOf(rule: UnitRule, tensors: Record<string, { dims: readonly number[] }>): number {
  return countUnits(rule, Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.dims])));
}

/**
 * Checks that `rule` bounds every dynamic axis of a model's inputs (dims as onnxruntime reports them: numbers for
 * fixed sizes, strings or negative numbers for dynamic ones). Returns the problems, empty when it does.
 */
export function ruleCoverageProblems(rule: UnitRule, inputs: { name: string; dims: (number | string)[] }[]): string[] {
  const problems: string[] = [];
  const own = ruleProblem(rule);
  if (own) problems.push(own);
  for (const name of Object.keys(rule.shapes)) if (!inputs.some((i) => i.name === name)) problems.push(`shapes.${name}: the model has no input "${name}"`);
  for (const input of inputs) {
    const shape = rule.shapes[input.name];
    const dynamic = input.dims.some((d) => typeof d !== "number" || d < 0);
    if (!shape) {
      if (dynamic) problems.push(`input "${input.name}" has a dynamic axis but the unit rule does not bound it`);
      continue;
    }
    if (shape.length !== input.dims.length) {
      problems.push(`shapes.${input.name} has ${shape.length} axes, the model's input has ${input.dims.length}`);
      continue;
    }
    input.dims.forEach((d, i) => {
      const a = shape[i]!;
      if (typeof d === "number" && d >= 0 && typeof a === "number" && a !== d) problems.push(`shapes.${input.name}[${i}] is ${a}, the model fixes it at ${d}`);
    });
  }
  return problems;
}

export function describeAxis(a: AxisRule): string {
  return a === "units" ? "N" : typeof a === "number" ? String(a) : `1..${a.max}`;
}

/** A rule in one line: "frame = input[N, 512] axis 0 (state [2, N, 128]), at most 64 per request". */
export function describeRule(rule: UnitRule): string {
  if (rule.input === undefined) return `${rule.name}: one per request`;
  const shapes = Object.entries(rule.shapes)
    .map(([name, s]) => `${name} [${s.map(describeAxis).join(", ")}]`)
    .join(", ");
  return `${rule.name} = one item on axis ${rule.axis} of "${rule.input}" (${shapes}), at most ${rule.maxUnits} per request`;
}

/** Unit rules of the demo models (worker/models/demo.ts); a worker serving them publishes these. */
export const DEMO_UNIT_RULES = {
  /** Silero VAD v5 at 16 kHz: one frame = 512 float32 samples (32 ms); the LSTM state is batched with the frames. */
  "silero-vad": {
    name: "frame",
    input: "input",
    axis: 0,
    maxUnits: 64,
    shapes: { input: ["units", 512], state: [2, "units", 128], sr: [] },
    description: "one 512-sample (32 ms at 16 kHz) audio frame: one row of `input` [N, 512], with its state row in `state` [2, N, 128]",
  },
  /** PaddleOCR text-direction classifier: one image = one 3x48x192 crop. */
  "ppocr-cls": {
    name: "image",
    input: "x",
    axis: 0,
    maxUnits: 4,
    shapes: { x: ["units", 3, 48, 192] },
    description: "one 3x48x192 text-line image: one item of `x` [N, 3, 48, 192]",
  },
} satisfies Record<string, UnitRule>;
