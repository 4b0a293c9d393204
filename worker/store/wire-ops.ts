// Write operations cross to the writer thread as one JSON string per group: flat arrays of strings and numbers
// (bigints as decimal strings). Structured clone of nested objects with bigints cost more main-thread time and
// garbage than the whole voucher check; a string is copied in one piece. A stored answer's outputs (kilobytes of
// JSON already) travel beside that string in `texts`, by index: escaping them into the ops' JSON and parsing them
// back out cost more than the rest of the group's encoding.
import type { Hex } from "viem";
import type { WriteOp } from "./db.ts";

type Encoded = (string | number | null)[];

const s = (v: bigint) => v.toString();

export function encodeOp(w: WriteOp, texts: string[]): Encoded {
  switch (w.op) {
    case "insertReceipt": {
      const r = w.row;
      return ["r", s(r.sequence), r.channelId, s(r.amount), r.voucherSig, s(r.modelId), r.modelHash, r.inputHash, r.outputHash, r.previous, s(r.timestamp), r.digest, r.signature, s(r.units)];
    }
    case "issueReceipt": {
      const r = w.receipt;
      return ["R", r.channelId, s(r.amount), r.voucherSig, s(r.modelId), r.modelHash, r.inputHash, r.outputHash, s(r.timestamp), s(r.units)];
    }
    case "recordAccepted": {
      const a = w.state;
      return ["a", w.id, s(a.acceptedAmount), a.acceptedSig, s(a.verifiedAmount), a.verifiedSig, a.firstUnclaimedAt, a.signerPubkey];
    }
    case "recordVerified":
      return ["v", w.id, s(w.amount), w.sig, w.signerPubkey];
    case "block":
      return ["b", w.id, w.reason];
    case "recordCloseSigned":
      return ["c", w.id, s(w.amount)];
    case "insertChannel": {
      const t = w.terms;
      const st = w.state;
      return ["i", w.id, t.payer, t.signer, t.device, t.payee, t.token, s(t.modelId), s(t.price), t.royaltyBps, s(t.salt), s(st.deposit), s(st.claimed), st.closesAt, st.settled ? 1 : 0];
    }
    case "updateChainState": {
      const st = w.state;
      return ["u", w.id, s(st.deposit), s(st.claimed), st.closesAt, st.settled ? 1 : 0];
    }
    case "setFirstUnclaimedAt":
      return ["f", w.id, w.at];
    case "setMeta":
      return ["m", w.key, w.value];
    case "storeAnswer":
      return ["A", w.answer.channelId, s(w.answer.amount), w.answer.bodyHash, texts.push(w.answer.outputs) - 1];
  }
}

export function decodeOp(e: Encoded, texts: readonly string[]): WriteOp {
  const str = (i: number) => e[i] as string;
  const hex = (i: number) => e[i] as Hex;
  const big = (i: number) => BigInt(e[i] as string);
  const num = (i: number) => e[i] as number;
  switch (e[0]) {
    case "r":
      return {
        op: "insertReceipt",
        row: {
          sequence: big(1),
          channelId: hex(2),
          amount: big(3),
          voucherSig: hex(4),
          modelId: big(5),
          modelHash: hex(6),
          inputHash: hex(7),
          outputHash: hex(8),
          previous: hex(9),
          timestamp: big(10),
          digest: hex(11),
          signature: hex(12),
          units: big(13),
        },
      };
    case "R":
      return {
        op: "issueReceipt",
        receipt: {
          channelId: hex(1),
          amount: big(2),
          voucherSig: hex(3),
          modelId: big(4),
          modelHash: hex(5),
          inputHash: hex(6),
          outputHash: hex(7),
          timestamp: big(8),
          units: big(9),
        },
      };
    case "a":
      return {
        op: "recordAccepted",
        id: hex(1),
        state: {
          acceptedAmount: big(2),
          acceptedSig: hex(3),
          verifiedAmount: big(4),
          verifiedSig: e[5] as Hex | null,
          firstUnclaimedAt: e[6] as number | null,
          signerPubkey: e[7] as Hex | null,
        },
      };
    case "v":
      return { op: "recordVerified", id: hex(1), amount: big(2), sig: hex(3), signerPubkey: e[4] as Hex | null };
    case "b":
      return { op: "block", id: hex(1), reason: str(2) };
    case "c":
      return { op: "recordCloseSigned", id: hex(1), amount: big(2) };
    case "i":
      return {
        op: "insertChannel",
        id: hex(1),
        terms: {
          payer: hex(2),
          signer: hex(3),
          device: hex(4),
          payee: hex(5),
          token: hex(6),
          modelId: big(7),
          price: big(8),
          royaltyBps: num(9),
          salt: big(10),
        },
        state: { deposit: big(11), claimed: big(12), closesAt: num(13), settled: num(14) === 1 },
      };
    case "u":
      return { op: "updateChainState", id: hex(1), state: { deposit: big(2), claimed: big(3), closesAt: num(4), settled: num(5) === 1 } };
    case "f":
      return { op: "setFirstUnclaimedAt", id: hex(1), at: e[2] as number | null };
    case "m":
      return { op: "setMeta", key: str(1), value: str(2) };
    case "A": {
      const outputs = texts[num(4)];
      if (outputs === undefined) throw new Error(`storeAnswer refers to text ${String(e[4])}, not sent`);
      return { op: "storeAnswer", answer: { channelId: hex(1), amount: big(2), bodyHash: hex(3), outputs } };
    }
    default:
      throw new Error(`unknown write op ${String(e[0])}`);
  }
}
