// Browser side of the OCR classifier input: decode an image file into RGBA pixels (the tensor itself is built by
// protocol/client/inputs.ts ocrClsInput, shared with the CLI).
import type { Pixels } from "../../protocol/client/inputs.ts";

export async function imageFilePixels(file: Blob): Promise<{ pixels: Pixels; preview: string }> {
  const bitmap = await createImageBitmap(file);
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return {
    pixels: { width: image.width, height: image.height, data: new Uint8Array(image.data.buffer), channels: 4 },
    preview: canvas.toDataURL("image/png"),
  };
}

export function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
