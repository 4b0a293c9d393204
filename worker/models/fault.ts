// A wrong-answering device, for tests and the demo only: adds `delta` to every element of every float output with
// probability `probability` per run. It is reachable only through startWorker's programmatic StartOptions.faults
// (never from the config file, the environment or a request), and is off unless a caller passes it.
import type { Tensor } from "@edgepay/protocol/tensors";

export interface OutputFault {
  /** Chance that one run's outputs are perturbed, 0..1. */
  probability: number;
  /** Added to each float element of a perturbed run. */
  delta: number;
  /** Source of draws in [0, 1) (default Math.random: a fault needs no unpredictability). */
  random?: () => number;
}

export function checkFault(fault: OutputFault): OutputFault {
  if (!(fault.probability >= 0 && fault.probability <= 1)) throw new Error(`fault probability must be within 0..1, got ${fault.probability}`);
  if (!Number.isFinite(fault.delta)) throw new Error(`fault delta must be finite, got ${fault.delta}`);
  return fault;
}

/** Perturbs `outputs` in place (they are the run's own buffers) when the draw says so. */
export function applyFault(fault: OutputFault, outputs: Record<string, Tensor>): void {
  if ((fault.random ?? Math.random)() >= fault.probability) return;
  for (const t of Object.values(outputs)) {
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) continue;
    for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i]! + fault.delta;
  }
}
