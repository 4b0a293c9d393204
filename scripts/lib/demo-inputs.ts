// Real inputs for the demo fleet. Audio: speech spoken by espeak-ng (Debian package) when it is installed, with
// silences between sentences, resampled to the 16 kHz mono the Silero VAD needs; without espeak-ng, a synthetic
// voiced waveform (harmonics with a pitch contour and syllable envelope), which the demo says it is. Images: lines
// of text rendered with a built-in 5x7 pixel font, half of them upside down, for the OCR direction classifier.
// Everything is written to files so a person can listen to and look at what was sent.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { parseWav, VAD_SAMPLE_RATE, type Pixels } from "../../protocol/client/inputs.ts";
import { encodeWav16, toPcm16 } from "../../protocol/node/inputs.ts";

export interface SpeechSample {
  file: string;
  samples: Float32Array;
  /** "espeak-ng" for real synthesised speech, "synthetic" for the fallback waveform. */
  source: "espeak-ng" | "synthetic";
  text?: string;
}

const SENTENCES = [
  "Edge devices sell inference one call at a time.",
  "Every answer carries a receipt signed by the device.",
  "The buyer pays with vouchers; the chain settles in batches.",
  "Model owners earn a royalty on each paid call.",
  "Silence between sentences should read as no speech.",
];

/** Linear-interpolation resampling (enough for a voice-activity detector at 16 kHz). */
export function resample(samples: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return samples;
  const out = new Float32Array(Math.floor((samples.length * to) / from));
  const ratio = from / to;
  for (let i = 0; i < out.length; i++) {
    const x = i * ratio;
    const i0 = Math.floor(x);
    const i1 = Math.min(i0 + 1, samples.length - 1);
    out[i] = samples[i0]! * (1 - (x - i0)) + samples[i1]! * (x - i0);
  }
  return out;
}

export function hasEspeak(): boolean {
  return spawnSync("espeak-ng", ["--version"], { encoding: "utf8" }).status === 0;
}

/** One speech sample per sentence with `gapSeconds` of silence after it, as 16 kHz mono float samples. */
export function speechSamples(dir: string, options: { gapSeconds?: number; forceSynthetic?: boolean } = {}): SpeechSample[] {
  mkdirSync(dir, { recursive: true });
  const gap = new Float32Array(Math.round((options.gapSeconds ?? 0.6) * VAD_SAMPLE_RATE));
  const useEspeak = !options.forceSynthetic && hasEspeak();
  return SENTENCES.map((text, i) => {
    const file = path.join(dir, `speech-${i + 1}.wav`);
    let voice: Float32Array;
    let source: SpeechSample["source"];
    if (useEspeak) {
      const raw = path.join(dir, `speech-${i + 1}.espeak.wav`);
      const r = spawnSync("espeak-ng", ["-v", i % 2 ? "en-us" : "en", "-s", String(150 + 10 * i), "-w", raw, text], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`espeak-ng failed: ${r.stderr}`);
      const audio = parseWav(readFileSync(raw));
      voice = resample(audio.samples, audio.sampleRate, VAD_SAMPLE_RATE);
      source = "espeak-ng";
    } else {
      voice = syntheticVoice(1.5 + 0.3 * i, 110 + 25 * i, i + 1);
      source = "synthetic";
    }
    const samples = new Float32Array(gap.length + voice.length + gap.length);
    samples.set(voice, gap.length);
    writeFileSync(file, wav16(samples));
    return { file, samples, source, text: useEspeak ? text : undefined };
  });
}

/**
 * A synthetic voiced signal: a glottal-like harmonic series with a falling pitch contour, amplitude-modulated into
 * 4-5 syllables per second, plus a little noise. Not speech; labelled "synthetic" wherever it is used.
 */
function syntheticVoice(seconds: number, pitchHz: number, seed: number): Float32Array {
  const n = Math.round(seconds * VAD_SAMPLE_RATE);
  const out = new Float32Array(n);
  let phase = 0;
  let rnd = seed * 2654435761;
  const noise = () => ((rnd = (rnd * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.02;
  for (let i = 0; i < n; i++) {
    const t = i / VAD_SAMPLE_RATE;
    const f0 = pitchHz * (1.1 - 0.2 * (t / seconds)) * (1 + 0.03 * Math.sin(2 * Math.PI * 5 * t));
    phase += (2 * Math.PI * f0) / VAD_SAMPLE_RATE;
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(h * phase) / h;
    const syllable = Math.max(0, Math.sin(Math.PI * 4.5 * t)) ** 0.6;
    out[i] = 0.25 * v * syllable + noise();
  }
  return out;
}

function wav16(samples: Float32Array): Buffer {
  return encodeWav16(toPcm16(samples), VAD_SAMPLE_RATE);
}

// ------------------------------------------------------------------ rendered text

// 5x7 glyphs, one byte per row, bit 4 = leftmost pixel.
const FONT: Record<string, number[]> = {
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28], E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17], I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12], K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17], O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16], Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4], U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31],
  "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
  "3": [31, 2, 4, 2, 1, 17, 14], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
  "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
  "9": [14, 17, 17, 15, 1, 2, 12], " ": [0, 0, 0, 0, 0, 0, 0], "-": [0, 0, 0, 31, 0, 0, 0], ".": [0, 0, 0, 0, 0, 12, 12],
};

const WORDS = ["INVOICE 2041", "TOTAL 18.40", "EDGE DEVICE", "PAID CALL", "RECEIPT 77", "MODEL OWNER", "ROYALTY 5", "SETTLED", "VOUCHER 12", "BATCH CLAIM"];

export interface TextImage {
  file: string;
  text: string;
  /** True when the text was rendered upside down (the classifier's "180°" class). */
  flipped: boolean;
  pixels: Pixels;
}

/** Renders `text` in dark ink on a light, slightly noisy background, `scale` screen pixels per font pixel. */
export function renderText(text: string, scale: number, seed: number): Pixels {
  const pad = 2 * scale;
  const glyphW = 6 * scale;
  const width = pad * 2 + glyphW * text.length;
  const height = pad * 2 + 7 * scale;
  const data = new Uint8Array(width * height * 3);
  let rnd = (seed * 2654435761) >>> 0;
  const jitter = () => ((rnd = (rnd * 1103515245 + 12345) >>> 0) % 17) - 8;
  for (let i = 0; i < width * height; i++) {
    const v = 235 + jitter();
    data[i * 3] = v;
    data[i * 3 + 1] = v;
    data[i * 3 + 2] = v - 6;
  }
  [...text.toUpperCase()].forEach((ch, k) => {
    const rows = FONT[ch] ?? FONT[" "]!;
    for (let r = 0; r < 7; r++) {
      for (let c = 0; c < 5; c++) {
        if (!((rows[r]! >> (4 - c)) & 1)) continue;
        for (let y = 0; y < scale; y++) {
          for (let x = 0; x < scale; x++) {
            const px = pad + k * glyphW + c * scale + x;
            const py = pad + r * scale + y;
            const o = (py * width + px) * 3;
            const ink = 30 + jitter();
            data[o] = ink;
            data[o + 1] = ink;
            data[o + 2] = ink + 10;
          }
        }
      }
    }
  });
  return { width, height, data, channels: 3 };
}

export function rotate180(p: Pixels): Pixels {
  const n = p.width * p.height;
  const out = new Uint8Array(p.data.length);
  for (let i = 0; i < n; i++) out.set(p.data.subarray(i * p.channels, (i + 1) * p.channels), (n - 1 - i) * p.channels);
  return { ...p, data: out };
}

/** `count` text-line images, every other one upside down, written as PNG files into `dir`. */
export function textImages(dir: string, count = 10): TextImage[] {
  mkdirSync(dir, { recursive: true });
  const out: TextImage[] = [];
  for (let i = 0; i < count; i++) {
    const text = WORDS[i % WORDS.length]!;
    const flipped = i % 2 === 1;
    const upright = renderText(text, 3 + (i % 3), i + 1);
    const pixels = flipped ? rotate180(upright) : upright;
    const file = path.join(dir, `text-${i + 1}${flipped ? "-upside-down" : ""}.png`);
    const png = new PNG({ width: pixels.width, height: pixels.height });
    for (let j = 0; j < pixels.width * pixels.height; j++) {
      png.data[j * 4] = pixels.data[j * 3]!;
      png.data[j * 4 + 1] = pixels.data[j * 3 + 1]!;
      png.data[j * 4 + 2] = pixels.data[j * 3 + 2]!;
      png.data[j * 4 + 3] = 255;
    }
    writeFileSync(file, PNG.sync.write(png));
    out.push({ file, text, flipped, pixels });
  }
  return out;
}
