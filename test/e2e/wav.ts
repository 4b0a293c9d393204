// A small real WAV file (RIFF, 16-bit PCM, mono, 16 kHz) for the voice-activity model: silence, then a voiced-like
// harmonic signal with a syllable envelope.
export function makeWav(seconds: number): Buffer {
  const rate = 16_000;
  const n = Math.round(seconds * rate);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    let v = 0;
    if (t > seconds / 3) {
      const f0 = 140 + 30 * Math.sin(2 * Math.PI * 3 * t);
      for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
      v *= 0.25 * (0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t));
    }
    v += (Math.random() - 0.5) * 0.002;
    pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}
