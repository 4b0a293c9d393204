import { encodeWav16, toPcm16 } from "../../protocol/node/inputs.ts";

// A small real WAV file (RIFF, 16-bit PCM, mono, 16 kHz) for the voice-activity model: silence, then a voiced-like
// harmonic signal with a syllable envelope.
export function makeWav(seconds: number): Buffer {
  const rate = 16_000;
  const n = Math.round(seconds * rate);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    let v = 0;
    if (t > seconds / 3) {
      const f0 = 140 + 30 * Math.sin(2 * Math.PI * 3 * t);
      for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
      v *= 0.25 * (0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t));
    }
    v += (Math.random() - 0.5) * 0.002;
    samples[i] = v;
  }
  return encodeWav16(toPcm16(samples), rate);
}
