// A spot-check verifier that runs the model on the buyer's own machine with onnxruntime-node (CPU), from a local
// .onnx file whose sha256 must equal the model's on-chain content hash: a file that differs is never used, so the
// verdict is about the published model, not whatever file the buyer happens to hold.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import ort from "onnxruntime-node";
import type { Hex } from "viem";
import { TENSOR_TYPES, type Tensor, type TensorData, type TensorType } from "../tensors.ts";
import { SpotCheckUnavailable, type LocalVerifier } from "../client/spot-check.ts";

export interface OnnxLocalVerifierOptions {
  /** Model id (decimal string) -> path of its .onnx file. */
  files: Record<string, string>;
}

export class OnnxLocalVerifier implements LocalVerifier {
  readonly name = "onnxruntime-node";
  readonly #files: Record<string, string>;
  readonly #sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(options: OnnxLocalVerifierOptions) {
    this.#files = options.files;
  }

  async run(modelId: bigint, contentHash: Hex, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const session = await this.#session(modelId, contentHash);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(feeds);
    } catch (error) {
      throw new SpotCheckUnavailable("local_run_failed", `model ${modelId} failed locally: ${(error as Error).message.split("\n")[0]}`);
    }
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(results)) {
      const type = value.type as TensorType;
      if (!TENSOR_TYPES.includes(type)) throw new SpotCheckUnavailable("local_run_failed", `model ${modelId} returned output ${name} of unsupported type ${value.type}`);
      out[name] = { type, dims: [...value.dims], data: value.data as TensorData };
    }
    return out;
  }

  /** Sessions are keyed by model and hash: a model whose on-chain hash changed is loaded (and checked) again. */
  #session(modelId: bigint, contentHash: Hex): Promise<ort.InferenceSession> {
    const key = `${modelId}:${contentHash.toLowerCase()}`;
    let p = this.#sessions.get(key);
    if (!p) {
      p = this.#load(modelId, contentHash);
      this.#sessions.set(key, p);
      p.catch(() => this.#sessions.delete(key));
    }
    return p;
  }

  async #load(modelId: bigint, contentHash: Hex): Promise<ort.InferenceSession> {
    const file = this.#files[modelId.toString()];
    if (!file) throw new SpotCheckUnavailable("no_local_model", `no local file for model ${modelId}`);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new SpotCheckUnavailable("no_local_model", `model ${modelId}: cannot read ${file}: ${(error as Error).message}`);
    }
    const hash = `0x${createHash("sha256").update(bytes).digest("hex")}`;
    if (hash !== contentHash.toLowerCase()) {
      throw new SpotCheckUnavailable("model_hash_mismatch", `model ${modelId}: ${file} has sha256 ${hash}, the ModelRegistry content hash is ${contentHash}`);
    }
    return ort.InferenceSession.create(bytes, { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 });
  }

  /** Releases the loaded sessions. */
  async release(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of sessions) await (await s.catch(() => undefined))?.release();
  }
}
