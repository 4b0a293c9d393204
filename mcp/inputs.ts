// An agent's inference input: JSON tensors in the call, or a file path (.wav audio, .png image, .json tensors)
// read with the buyer CLI's converters.
import path from "node:path";
import { realpath } from "node:fs/promises";
import { tensorFromWire, type Tensor, type TensorMapWire } from "../protocol/tensors.ts";
import { readInputFile, type InputFile } from "../protocol/node/inputs.ts";
import { ToolFailure } from "./errors.ts";

export async function resolveInput(args: { inputs?: TensorMapWire; file?: string }, filesDir?: string): Promise<InputFile> {
  if ((args.inputs === undefined) === (args.file === undefined)) throw new ToolFailure("bad_arguments", "give exactly one of `inputs` (JSON tensors) or `file` (path to a .wav, .png or .json)");
  if (args.file !== undefined) {
    // Read the resolved path itself, so what was checked is what is read.
    const file = filesDir !== undefined ? await insideDir(args.file, filesDir) : args.file;
    try {
      return await readInputFile(file);
    } catch (error) {
      throw new ToolFailure("bad_input_file", (error as Error).message);
    }
  }
  const inputs: Record<string, Tensor> = {};
  try {
    for (const [name, wire] of Object.entries(args.inputs!)) inputs[name] = tensorFromWire(name, wire);
  } catch (error) {
    throw new ToolFailure("invalid_tensor", (error as Error).message);
  }
  if (Object.keys(inputs).length === 0) throw new ToolFailure("bad_arguments", "`inputs` names no tensor");
  return { kind: "tensors", inputs };
}

/** The operator may confine an agent's file reads to one directory (links resolved, so none leads out of it). */
async function insideDir(file: string, dir: string): Promise<string> {
  const root = await realpath(dir);
  let real: string;
  try {
    real = await realpath(path.resolve(root, file));
  } catch (error) {
    throw new ToolFailure("bad_input_file", `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const rel = path.relative(root, real);
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new ToolFailure("file_not_allowed", `${file} is outside the directory the operator allows (${root})`);
  return real;
}
