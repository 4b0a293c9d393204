// A served model: the .onnx file, its sha256 (checked against the ModelRegistry), an onnxruntime CPU session,
// and validation of request tensors against the session's input metadata.
import { readFileSync } from "node:fs";
import ort from "onnxruntime-node";
import type { Hex } from "viem";
import { TENSOR_TYPES, TensorError, type Tensor, type TensorData, type TensorType } from "@edgepay/protocol/tensors";
import { sha256File } from "../crypto.ts";
import { applyFault, checkFault, type OutputFault } from "./fault.ts";

export interface TensorSpec {
  name: string;
  type: string;
  /** Fixed sizes as numbers, dynamic ones as their symbolic name (or ""). */
  dims: (number | string)[];
}

export class ModelRuntime {
  readonly modelId: bigint;
  readonly name: string;
  readonly file: string;
  readonly hash: Hex;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly #session: ort.InferenceSession;
  readonly #fault?: OutputFault;

  private constructor(args: { modelId: bigint; name: string; file: string; hash: Hex; session: ort.InferenceSession; fault?: OutputFault }) {
    this.modelId = args.modelId;
    this.name = args.name;
    this.file = args.file;
    this.hash = args.hash;
    this.#session = args.session;
    this.#fault = args.fault && checkFault(args.fault);
    this.inputs = specsOf(args.session.inputMetadata);
    this.outputs = specsOf(args.session.outputMetadata);
  }

  /** Reads the file, hashes it and opens a CPU session with one intra-op thread (best HTTP throughput on 2 cores). */
  static async load(args: { modelId: bigint; name: string; file: string; fault?: OutputFault }): Promise<ModelRuntime> {
    let bytes: Buffer;
    try {
      bytes = readFileSync(args.file);
    } catch (error) {
      throw new Error(`model ${args.modelId} (${args.name}): cannot read ${args.file}: ${(error as Error).message}`);
    }
    const hash = sha256File(bytes);
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      // A failing run is reported to the caller as inference_failed; onnxruntime's own stderr lines would be noise.
      logSeverityLevel: 4,
    });
    return new ModelRuntime({ ...args, hash, session });
  }

  /** Throws TensorError naming the tensor when `tensors` do not fit the model's inputs. */
  validate(tensors: Record<string, Tensor>) {
    for (const name of Object.keys(tensors)) {
      if (!this.inputs.some((i) => i.name === name)) {
        throw new TensorError(name, `is not an input of model ${this.modelId} (inputs: ${this.inputs.map((i) => i.name).join(", ")})`);
      }
    }
    for (const spec of this.inputs) {
      const t = tensors[spec.name];
      if (!t) throw new TensorError(spec.name, `is missing (model ${this.modelId} needs ${describe(spec)})`);
      if (t.type !== spec.type) throw new TensorError(spec.name, `has type ${t.type}, expected ${spec.type}`);
      if (t.dims.length !== spec.dims.length) {
        throw new TensorError(spec.name, `has rank ${t.dims.length} [${t.dims.join(", ")}], expected rank ${spec.dims.length} ${describe(spec)}`);
      }
      spec.dims.forEach((d, i) => {
        if (typeof d === "number" && d >= 0 && t.dims[i] !== d) {
          throw new TensorError(spec.name, `has dims [${t.dims.join(", ")}], expected ${describe(spec)} (dimension ${i} must be ${d})`);
        }
      });
    }
  }

  /** Runs the model; outputs keep onnxruntime's element buffers (no copy). */
  async run(tensors: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(tensors)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const results = await this.#session.run(feeds);
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(results)) {
      const type = value.type as TensorType;
      if (!TENSOR_TYPES.includes(type)) throw new Error(`model ${this.modelId} returned output ${name} of unsupported type ${value.type}`);
      const data = value.data as TensorData;
      if (data instanceof Float32Array || data instanceof Float64Array) canonicalizeFloats(name, data);
      out[name] = { type, dims: [...value.dims], data };
    }
    if (this.#fault) applyFault(this.#fault, out);
    return out;
  }

  async release() {
    await this.#session.release();
  }
}

/**
 * JSON cannot carry -0, NaN or infinities: -0 becomes 0 here (so the receipt's output hash is over exactly what the
 * buyer decodes), and a non-finite output fails the inference rather than reaching the buyer as null.
 */
function canonicalizeFloats(name: string, data: Float32Array | Float64Array) {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v === 0) data[i] = 0;
    else if (!Number.isFinite(v)) throw new Error(`output ${name} holds a non-finite value at index ${i}`);
  }
}

function specsOf(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) return { name: m.name, type: "non-tensor", dims: [] };
    return { name: m.name, type: m.type, dims: m.shape.map((d) => (typeof d === "number" ? d : d)) };
  });
}

function describe(spec: TensorSpec): string {
  return `${spec.type}[${spec.dims.map((d) => (typeof d === "number" && d >= 0 ? String(d) : "?")).join(", ")}]`;
}
