// Audio for the voice-activity model (Silero VAD v5): mono 16 kHz float samples, cut into 512-sample frames.

export const VAD_SAMPLE_RATE = 16_000;
export const VAD_FRAME = 512;

/** Decodes any audio file the browser understands (WAV, OGG, WebM…) and resamples it to mono 16 kHz. */
export async function decodeTo16k(bytes: ArrayBuffer): Promise<Float32Array> {
  const ctx = new AudioContext();
  try {
    const decoded = await ctx.decodeAudioData(bytes.slice(0));
    const length = Math.max(1, Math.ceil(decoded.duration * VAD_SAMPLE_RATE));
    const offline = new OfflineAudioContext(1, length, VAD_SAMPLE_RATE);
    const source = offline.createBufferSource();
    source.buffer = decoded;
    source.connect(offline.destination);
    source.start();
    const rendered = await offline.startRendering();
    return rendered.getChannelData(0).slice();
  } finally {
    await ctx.close();
  }
}

/** Consecutive 512-sample frames (the last one zero-padded), at most `max`. */
export function framesOf(samples: Float32Array, max: number): Float32Array[] {
  const frames: Float32Array[] = [];
  for (let off = 0; off < samples.length && frames.length < max; off += VAD_FRAME) {
    const frame = new Float32Array(VAD_FRAME);
    frame.set(samples.subarray(off, Math.min(off + VAD_FRAME, samples.length)));
    frames.push(frame);
  }
  return frames;
}

/** Records from the microphone until `stop()` is called; resolves to the recorded bytes. */
export async function startRecording(): Promise<{ stop: () => Promise<ArrayBuffer> }> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  const chunks: Blob[] = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.start();
  return {
    stop: () =>
      new Promise((resolve) => {
        recorder.onstop = async () => {
          stream.getTracks().forEach((t) => t.stop());
          resolve(await new Blob(chunks, { type: recorder.mimeType }).arrayBuffer());
        };
        recorder.stop();
      }),
  };
}
