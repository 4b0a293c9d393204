// An agent's inference input: JSON tensors in the call, or a file path (.wav audio, .png image, .json tensors)
// read with the buyer CLI's converters.
import { tensorFromWire, type Tensor, type TensorMapWire } from "../protocol/tensors.ts";
import { readInputFile, type InputFile } from "../protocol/node/inputs.ts";
import { ToolFailure } from "./errors.ts";

export async function resolveInput(args: { inputs?: TensorMapWire; file?: string }): Promise<InputFile> {
  if ((args.inputs === undefined) === (args.file === undefined)) throw new ToolFailure("bad_arguments", "give exactly one of `inputs` (JSON tensors) or `file` (path to a .wav, .png or .json)");
  if (args.file !== undefined) {
    try {
      return await readInputFile(args.file);
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
