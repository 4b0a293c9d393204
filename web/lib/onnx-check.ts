// Is this file an ONNX model? An .onnx file is a protobuf ModelProto: its top level is a sequence of fields with
// valid tags, wire types and lengths that end exactly at the end of the file, including ir_version (field 1,
// varint) and graph (field 7, length-delimited). A text file, an image or a truncated download fails this.

export type OnnxCheck = { ok: true; irVersion: number } | { ok: false; reason: string };

export function checkOnnx(name: string, bytes: Uint8Array): OnnxCheck {
  if (!/\.onnx$/i.test(name)) return { ok: false, reason: `${name} is not an .onnx file.` };
  if (bytes.length < 16) return { ok: false, reason: `${name} is too small (${bytes.length} bytes) to be an ONNX model.` };
  let pos = 0;
  const varint = (): number | undefined => {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) return undefined;
      const b = bytes[pos++]!;
      // Numbers above 2^53 do not occur in a model's top-level lengths; guard against garbage instead.
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    return undefined;
  };
  let irVersion: number | undefined;
  let graph = false;
  const notOnnx = (why: string): OnnxCheck => ({ ok: false, reason: `${name} is not an ONNX model (${why} at byte ${pos}).` });
  while (pos < bytes.length) {
    const tag = varint();
    if (tag === undefined) return notOnnx("a truncated field tag");
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field < 1 || field > 100) return notOnnx(`field number ${field}`);
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return notOnnx("a truncated number");
      if (field === 1) irVersion = v;
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || pos + len > bytes.length) return notOnnx("a length past the end of the file");
      if (field === 7) graph = true;
      pos += len;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      return notOnnx(`wire type ${wire}`);
    }
    if (pos > bytes.length) return notOnnx("a field past the end of the file");
  }
  if (irVersion === undefined || irVersion < 1 || irVersion > 100) return { ok: false, reason: `${name} has no ONNX IR version: not an ONNX model.` };
  if (!graph) return { ok: false, reason: `${name} has no graph: not an ONNX model.` };
  return { ok: true, irVersion };
}
