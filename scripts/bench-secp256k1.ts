// `node scripts/bench-secp256k1.ts`: the worker's secp256k1 calls side by side in one run, interleaved rounds, per CPU second —
// the `secp256k1` package called directly (what worker/crypto.ts did before worker/secp256k1-backend.ts), the
// backend's native path (what x64 uses now) and its wasm path (linux-arm64). Recovery is the paid path's cost.
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { loadBackend } from "../worker/secp256k1-backend.ts";

interface Direct {
  ecdsaSign(d: Uint8Array, k: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(s: Uint8Array, r: number, d: Uint8Array, c: boolean): Uint8Array;
}
const direct = createRequire(import.meta.url)("secp256k1") as Direct;
const native = await loadBackend("native");
const wasm = await loadBackend("wasm");
const N = Number(process.env.BENCH_N ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const secret = randomBytes(32);
const digests = Array.from({ length: N }, () => randomBytes(32));
const sigs = digests.map((d) => direct.ecdsaSign(d, secret));

const cases: Record<string, (i: number) => unknown> = {
  "recover: secp256k1 package directly": (i) => direct.ecdsaRecover(sigs[i]!.signature, sigs[i]!.recid, digests[i]!, false),
  "recover: backend native": (i) => native.recover(sigs[i]!.signature, sigs[i]!.recid, digests[i]!),
  "recover: backend wasm": (i) => wasm.recover(sigs[i]!.signature, sigs[i]!.recid, digests[i]!),
  "sign: secp256k1 package directly": (i) => direct.ecdsaSign(digests[i]!, secret),
  "sign: backend native": (i) => native.sign(digests[i]!, secret),
  "sign: backend wasm": (i) => wasm.sign(digests[i]!, secret),
};
const rates: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, f] of Object.entries(cases)) {
    // CPU time, not wall time: on a shared machine the wall clock mostly measures the neighbours.
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) f(i);
    const used = process.cpuUsage(start);
    (rates[name] ??= []).push((N / (used.user + used.system)) * 1e6);
  }
}
for (const [name, r] of Object.entries(rates)) {
  const sorted = [...r].sort((a, b) => a - b);
  console.log(`${name.padEnd(38)} median ${Math.round(sorted[Math.floor(sorted.length / 2)]!)}/CPU-s  (rounds: ${r.map(Math.round).join(", ")})`);
}
