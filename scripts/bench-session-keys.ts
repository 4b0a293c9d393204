// `npm run bench:session-keys`: what a channel's session key costs the worker, side by side in one run.
// - node:crypto createECDH + sha256 (the derivation before this change), per channel;
// - libsecp256k1 ECDH + HKDF over both public keys (worker/crypto.ts now), per channel;
// - loading N channels at start: keys are now derived on a channel's first request, so a start costs no ECDH at all;
//   the line prints what deriving them all up front would cost with each method.
// Environment: BENCH_CHANNELS (default 10000).
import { createECDH, createHash } from "node:crypto";
import secp256k1 from "secp256k1";
import { generatePrivateKey } from "viem/accounts";
import { digestSigner } from "../worker/crypto.ts";
import { randomUint256 } from "../protocol/client/keys.ts";
import type { Hex } from "viem";

const N = Number(process.env.BENCH_CHANNELS ?? 10_000);
const device = digestSigner(generatePrivateKey());
const deviceSecret = Buffer.from(generatePrivateKey().slice(2), "hex");
const signers = Array.from({ length: N }, () => secp256k1.publicKeyCreate(Buffer.from(generatePrivateKey().slice(2), "hex"), false));
const ids = Array.from({ length: N }, () => `0x${randomUint256().toString(16).padStart(64, "0")}` as Hex);

function timeIt(label: string, fn: (i: number) => void): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const us = Number(process.hrtime.bigint() - started) / 1000 / N;
  console.log(`${label.padEnd(52)} ${us.toFixed(1).padStart(7)} µs/channel   ${((us * N) / 1e6).toFixed(2).padStart(6)} s for ${N} channels`);
  return us;
}

const ecdh = createECDH("secp256k1");
ecdh.setPrivateKey(deviceSecret);
const label = Buffer.from("edgepay.session.v1");
console.log(`session keys for ${N} channels (one process, one core)`);
const before = timeIt("node createECDH + sha256 (before)", (i) => {
  createHash("sha256").update(label).update(ecdh.computeSecret(Buffer.from(signers[i]!))).update(Buffer.from(ids[i]!.slice(2), "hex")).digest();
});
const after = timeIt("libsecp256k1 ECDH + HKDF over both keys (now)", (i) => {
  device.sessionKey(signers[i]!, ids[i]!);
});
console.log(`ratio now/before: ${(after / before).toFixed(3)}; at start the worker now derives none (on first request instead)`);
