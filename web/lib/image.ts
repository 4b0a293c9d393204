// Images for the PaddleOCR text-direction classifier: x float32 [1, 3, 48, 192], the picture scaled to height 48
// (width by its aspect ratio, at most 192), normalised to [-1, 1], zero-padded on the right.

export const CLS_HEIGHT = 48;
export const CLS_WIDTH = 192;

export async function imageToClassifierInput(file: Blob): Promise<{ data: Float32Array; preview: string }> {
  const bitmap = await createImageBitmap(file);
  const width = Math.max(1, Math.min(CLS_WIDTH, Math.ceil((CLS_HEIGHT * bitmap.width) / bitmap.height)));
  const canvas = document.createElement("canvas");
  canvas.width = CLS_WIDTH;
  canvas.height = CLS_HEIGHT;
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(bitmap, 0, 0, width, CLS_HEIGHT);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, CLS_WIDTH, CLS_HEIGHT).data;
  const plane = CLS_HEIGHT * CLS_WIDTH;
  const data = new Float32Array(3 * plane);
  for (let y = 0; y < CLS_HEIGHT; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * CLS_WIDTH + x;
      for (let c = 0; c < 3; c++) data[c * plane + p] = (rgba[p * 4 + c]! / 255 - 0.5) / 0.5;
    }
  }
  return { data, preview: canvas.toDataURL("image/png") };
}

export function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
