// Browser side of the voice-activity input: any audio the browser decodes, resampled to mono 16 kHz (framing and
// tensors come from protocol/client/inputs.ts, shared with the CLI).
import { VAD_SAMPLE_RATE } from "../../protocol/client/inputs.ts";

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
