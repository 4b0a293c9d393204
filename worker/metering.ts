// Metered pricing on the worker: which unit rule a served model bills by (config `units`, or the built-in rule of a
// demo model, or one unit per request for a model without dynamic axes), and the unit count of a request, computed
// from its input shapes before anything runs. A model with a dynamic axis and no rule is refused at startup: an
// unbounded axis would let one price buy a whole batch.
import type { Tensor } from "@edgepay/protocol/tensors";
import { TensorError } from "@edgepay/protocol/tensors";
import { countUnits, perRequestRule, ruleCoverageProblems, UnitError, type UnitRule } from "@edgepay/protocol/units";
import { HttpError } from "./http/io.ts";
import { DEMO_MODELS } from "./models/demo.ts";
import type { ModelRuntime } from "./models/runtime.ts";
import { sha256File } from "./crypto.ts";
import { existsSync, readFileSync } from "node:fs";

let demoHashes: Map<string, UnitRule> | undefined;

/** The built-in rule of a demo model, found by its file's sha256 (so a copy elsewhere is recognised too). */
function demoRule(runtime: ModelRuntime): UnitRule | undefined {
  for (const demo of Object.values(DEMO_MODELS)) if (demo.file === runtime.file) return demo.units;
  if (!demoHashes) {
    demoHashes = new Map();
    for (const demo of Object.values(DEMO_MODELS)) {
      if (existsSync(demo.file)) demoHashes.set(sha256File(readFileSync(demo.file)).toLowerCase(), demo.units);
    }
  }
  return demoHashes.get(runtime.hash.toLowerCase());
}

/** The rule a model bills by; throws when none bounds every dynamic axis of its inputs. */
export function resolveUnitRule(runtime: ModelRuntime, configured?: UnitRule): UnitRule {
  const where = `model ${runtime.modelId} (${runtime.name})`;
  let rule = configured ?? demoRule(runtime);
  if (!rule) {
    const dynamic = runtime.inputs.filter((i) => i.dims.some((d) => typeof d !== "number" || d < 0));
    if (dynamic.length > 0) {
      throw new Error(
        `${where}: inputs ${dynamic.map((i) => `${i.name} [${i.dims.map((d) => (typeof d === "number" && d >= 0 ? d : "?")).join(", ")}]`).join(", ")} ` +
          `have dynamic axes; declare the model's unit rule in the config (models[].units, see worker/README.md) so one price cannot buy a batch`,
      );
    }
    rule = perRequestRule(Object.fromEntries(runtime.inputs.map((i) => [i.name, i.dims as number[]])));
  }
  const problems = ruleCoverageProblems(rule, runtime.inputs);
  if (problems.length > 0) throw new Error(`${where}: its unit rule does not fit the model:\n  ${problems.join("\n  ")}`);
  return rule;
}

/** Units of a validated request: 413 too_many_units or 400 invalid_tensor (nothing run, nothing stored). */
export function meter(rule: UnitRule, tensors: Record<string, Tensor>): number {
  try {
    return countUnits(rule, Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.dims])));
  } catch (error) {
    if (error instanceof UnitError) {
      if (error.code === "too_many_units") throw new HttpError("too_many_units", error.message, { unit: rule, units: error.units });
      throw new TensorError(error.tensor ?? "?", error.message.replace(/^tensor "[^"]*" /, ""));
    }
    throw error;
  }
}
