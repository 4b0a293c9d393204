// Reads an input file for the buyer CLI: JSON tensors, a WAV for the voice-activity model, a PNG for the OCR
// direction classifier.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PNG } from "pngjs";
import { z } from "zod";
import { tensorFromWire, tensorMapWire, type Tensor } from "../tensors.ts";
import { ocrClsInput, parseWav, vadFrames, type PcmAudio } from "../client/inputs.ts";

export type InputFile =
  | { kind: "tensors"; inputs: Record<string, Tensor> }
  | { kind: "audio"; audio: PcmAudio; frames: Float32Array[] }
  | { kind: "image"; width: number; height: number; inputs: Record<string, Tensor> };

export async function readInputFile(file: string): Promise<InputFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === ".wav") {
    const audio = parseWav(bytes);
    return { kind: "audio", audio, frames: vadFrames(audio) };
  }
  if (ext === ".png") {
    let png: PNG;
    try {
      png = PNG.sync.read(bytes);
    } catch (error) {
      throw new Error(`${file} is not a readable PNG: ${(error as Error).message}`);
    }
    return { kind: "image", width: png.width, height: png.height, inputs: ocrClsInput({ width: png.width, height: png.height, data: png.data, channels: 4 }) };
  }
  if (ext === ".json") {
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    // Either the request body `{ "inputs": { name: tensor } }` or the tensor map itself.
    const body = z.object({ inputs: tensorMapWire }).safeParse(json);
    const map = body.success ? body.data.inputs : tensorMapWire.safeParse(json);
    const tensors = "success" in map ? (map.success ? map.data : undefined) : map;
    if (!tensors) throw new Error(`${file}: expected {"inputs": {"<name>": {"type", "dims", "data"}}}`);
    const inputs: Record<string, Tensor> = {};
    for (const [name, wire] of Object.entries(tensors)) inputs[name] = tensorFromWire(name, wire);
    return { kind: "tensors", inputs };
  }
  throw new Error(`unsupported input ${file}: use .json (tensors), .wav (16 kHz mono PCM) or .png`);
}

/** A RIFF/WAVE file of 16-bit little-endian PCM (the inverse of parseWav for 16-bit data). */
export function encodeWav16(pcm: Int16Array, sampleRate: number, channels = 1): Buffer {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const h = Buffer.alloc(44);
  h.write("RIFF", 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write("WAVE", 8);
  h.write("fmt ", 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2 * channels, 28);
  h.writeUInt16LE(2 * channels, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Float samples in [-1, 1] -> 16-bit PCM, clipped. */
export function toPcm16(samples: ArrayLike<number>): Int16Array {
  return Int16Array.from(samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32767))));
}
