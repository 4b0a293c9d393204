// Real inputs for the demo models, in plain TypeScript so a browser can use them too:
// 16 kHz mono PCM WAV -> Silero VAD v5 frames, and RGB(A) pixels -> the PaddleOCR text-direction classifier input.
import type { Tensor } from "../tensors.ts";

export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Samples of the first channel in [-1, 1]. */
  samples: Float32Array;
}

/** Parses a RIFF/WAVE file with 8/16/24/32-bit integer PCM or 32-bit float samples. Throws with what is wrong. */
export function parseWav(bytes: Uint8Array): PcmAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file (no RIFF/WAVE header)");
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  for (let o = 12; o + 8 <= bytes.length; ) {
    const id = tag(o);
    const size = view.getUint32(o + 4, true);
    const body = o + 8;
    if (id === "fmt ") {
      let format = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format === 0xfffe && size >= 26) format = view.getUint16(body + 24, true);
      fmt = { format, channels: view.getUint16(body + 2, true), sampleRate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) };
    } else if (id === "data") {
      data = bytes.subarray(body, Math.min(body + size, bytes.length));
    }
    o = body + size + (size & 1);
  }
  if (!fmt) throw new Error("WAV file has no fmt chunk");
  if (!data) throw new Error("WAV file has no data chunk");
  const { format, channels, sampleRate, bits } = fmt;
  if (channels < 1) throw new Error("WAV file declares 0 channels");
  const bytesPerSample = bits / 8;
  const frameBytes = bytesPerSample * channels;
  const count = Math.floor(data.length / frameBytes);
  const samples = new Float32Array(count);
  const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < count; i++) {
    const o = i * frameBytes;
    if (format === 1 && bits === 16) samples[i] = d.getInt16(o, true) / 32768;
    else if (format === 1 && bits === 8) samples[i] = (d.getUint8(o) - 128) / 128;
    else if (format === 1 && bits === 24) samples[i] = (((d.getUint8(o + 2) << 24) | (d.getUint8(o + 1) << 16) | (d.getUint8(o) << 8)) >> 8) / 8388608;
    else if (format === 1 && bits === 32) samples[i] = d.getInt32(o, true) / 2147483648;
    else if (format === 3 && bits === 32) samples[i] = d.getFloat32(o, true);
    else throw new Error(`unsupported WAV encoding (format ${format}, ${bits} bits); use PCM or 32-bit float`);
  }
  return { sampleRate, channels, samples };
}

/** Samples per Silero VAD v5 frame at 16 kHz. */
export const VAD_FRAME = 512;
export const VAD_SAMPLE_RATE = 16_000;

/** Splits 16 kHz mono audio into 512-sample frames (the last one zero-padded). */
export function vadFrames(audio: PcmAudio): Float32Array[] {
  if (audio.sampleRate !== VAD_SAMPLE_RATE) throw new Error(`the VAD model needs 16 kHz audio; this file is ${audio.sampleRate} Hz (resample it, e.g. sox in.wav -r 16000 -c 1 out.wav)`);
  if (audio.channels !== 1) throw new Error(`the VAD model needs mono audio; this file has ${audio.channels} channels`);
  const frames: Float32Array[] = [];
  for (let o = 0; o < audio.samples.length; o += VAD_FRAME) {
    const frame = new Float32Array(VAD_FRAME);
    frame.set(audio.samples.subarray(o, Math.min(o + VAD_FRAME, audio.samples.length)));
    frames.push(frame);
  }
  return frames;
}

/** Silero VAD state tensor [2, 1, 128], zero at the start of a stream. */
export function initialVadState(): Tensor {
  return { type: "float32", dims: [2, 1, 128], data: new Float32Array(256) };
}

/** Inputs of one Silero VAD v5 call: the frame, the recurrent state carried from the previous call, the rate. */
export function sileroVadInputs(frame: Float32Array, state: Tensor): Record<string, Tensor> {
  if (frame.length !== VAD_FRAME) throw new Error(`a VAD frame has ${VAD_FRAME} samples, got ${frame.length}`);
  return {
    input: { type: "float32", dims: [1, VAD_FRAME], data: frame },
    state,
    sr: { type: "int64", dims: [], data: BigInt64Array.of(BigInt(VAD_SAMPLE_RATE)) },
  };
}

export interface Pixels {
  width: number;
  height: number;
  /** Row-major pixels with `channels` bytes each (3 = RGB, 4 = RGBA; alpha is ignored). */
  data: Uint8Array;
  channels: 3 | 4;
}

export const CLS_HEIGHT = 48;
export const CLS_WIDTH = 192;
/** Labels of the PaddleOCR direction classifier's two outputs. */
export const CLS_LABELS = ["0°", "180°"] as const;

/**
 * Input `x` [1, 3, 48, 192] of the PaddleOCR text-direction classifier, prepared as PaddleOCR does: resize to height
 * 48 keeping the aspect ratio (width at most 192), BGR channel order, (v / 255 - 0.5) / 0.5, zero padding on the right.
 */
export function ocrClsInput(image: Pixels): Record<string, Tensor> {
  if (image.width < 1 || image.height < 1) throw new Error("the image is empty");
  const width = Math.min(CLS_WIDTH, Math.max(1, Math.ceil((CLS_HEIGHT * image.width) / image.height)));
  const out = new Float32Array(3 * CLS_HEIGHT * CLS_WIDTH);
  const plane = CLS_HEIGHT * CLS_WIDTH;
  const sx = image.width / width;
  const sy = image.height / CLS_HEIGHT;
  const px = (x: number, y: number, c: number) => image.data[(y * image.width + x) * image.channels + c]!;
  for (let y = 0; y < CLS_HEIGHT; y++) {
    // Bilinear sampling at pixel centres, as cv2.resize(INTER_LINEAR).
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), image.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v =
          (px(x0, y0, c) * (1 - wx) + px(x1, y0, c) * wx) * (1 - wy) + (px(x0, y1, c) * (1 - wx) + px(x1, y1, c) * wx) * wy;
        // RGB source -> BGR planes (PaddleOCR reads images with OpenCV).
        out[(2 - c) * plane + y * CLS_WIDTH + x] = (v / 255 - 0.5) / 0.5;
      }
    }
  }
  return { x: { type: "float32", dims: [1, 3, CLS_HEIGHT, CLS_WIDTH], data: out } };
}
