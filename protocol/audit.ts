// The flight recorder's shared formats: anchor batches (what a device posts on-chain), receipt proofs (what
// `GET /v1/receipts/:seq/proof` returns and audit exports contain, one per line), and their offline checks.
// Whether an anchor really is on-chain is one call: FlightRecorder.isAnchored(device, root, fromSeq, toSeq).
import { encodeAbiParameters, isAddressEqual, keccak256, type Address, type Hex } from "viem";
import { z } from "zod";
import { buildReceiptTree, getProof, processProof, receiptLeaf, type MerkleTree } from "./merkle.ts";
import { receiptDigest, receiptToWire, recoverReceiptSigner, signedReceiptWire, type Receipt, type SignedReceipt } from "./receipt.ts";

/** An anchored range of a device's receipts, as the `Anchored` event reports it. */
export interface Anchor {
  device: Address;
  /** Merkle root over the receipts' leaves (protocol/merkle.ts). */
  root: Hex;
  fromSeq: bigint;
  toSeq: bigint;
  /** Digest of receipt `toSeq`: the head of the hash chain. */
  head: Hex;
}

/** An anchor ready to post, with its tree for answering proof requests. */
export interface AnchorBatch extends Anchor {
  tree: MerkleTree;
  digests: readonly Hex[];
}

/**
 * The anchor over receipts `fromSeq, fromSeq + 1, ...` given by their digests in sequence order. Throws for an empty
 * batch (the contract refuses empty ranges).
 */
export function anchorBatch(device: Address, fromSeq: bigint, digests: readonly Hex[]): AnchorBatch {
  if (fromSeq < 1n) throw new RangeError(`sequences start at 1, got ${fromSeq}`);
  const tree = buildReceiptTree(digests);
  return {
    device,
    root: tree.root,
    fromSeq,
    toSeq: fromSeq + BigInt(digests.length) - 1n,
    head: digests[digests.length - 1]!.toLowerCase() as Hex,
    tree,
    digests,
  };
}

/** The one storage word FlightRecorder keeps per anchor, keyed by (device, fromSeq). */
export function anchorCommitment(root: Hex, toSeq: bigint): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "uint64" }], [root, toSeq]));
}

/** A receipt with the proof of its inclusion in an anchor. */
export interface ReceiptProof {
  device: Address;
  receipt: SignedReceipt;
  anchor: Omit<Anchor, "device"> & { transactionHash?: Hex };
  /** Sibling path from the receipt's leaf to `anchor.root`. */
  proof: Hex[];
}

/** The proof of receipt `sequence` from a batch that contains it. */
export function receiptProof(batch: AnchorBatch, receipt: SignedReceipt, transactionHash?: Hex): ReceiptProof {
  if (receipt.sequence < batch.fromSeq || receipt.sequence > batch.toSeq) {
    throw new RangeError(`receipt ${receipt.sequence} is outside anchor ${batch.fromSeq}..${batch.toSeq}`);
  }
  const { device, root, fromSeq, toSeq, head } = batch;
  return {
    device,
    receipt,
    anchor: { root, fromSeq, toSeq, head, ...(transactionHash ? { transactionHash } : {}) },
    proof: getProof(batch.tree, Number(receipt.sequence - batch.fromSeq)),
  };
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address").transform((s) => s as Address);
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected 32 bytes of hex").transform((s) => s as Hex);
const seq = z
  .string()
  .regex(/^[1-9][0-9]{0,19}$/, "expected a sequence number (decimal, from 1)")
  .transform((s) => BigInt(s))
  .refine((n) => n < 2n ** 64n, "sequence does not fit in 64 bits");

/** A receipt proof on the wire (JSON; one per line in audit exports). */
export const receiptProofWire = z.object({
  device: address,
  receipt: signedReceiptWire,
  anchor: z
    .object({ root: bytes32, fromSeq: seq, toSeq: seq, head: bytes32, transactionHash: bytes32.optional() })
    .refine((a) => a.fromSeq <= a.toSeq, "anchor.fromSeq must not exceed anchor.toSeq"),
  // A sequence fits in 64 bits, so no tree is deeper than 64.
  proof: z.array(bytes32).max(64),
});
export type ReceiptProofWire = z.input<typeof receiptProofWire>;

export function receiptProofToWire(p: ReceiptProof): ReceiptProofWire {
  const { root, fromSeq, toSeq, head, transactionHash } = p.anchor;
  return {
    device: p.device,
    receipt: receiptToWire(p.receipt),
    anchor: { root, fromSeq: fromSeq.toString(), toSeq: toSeq.toString(), head, ...(transactionHash ? { transactionHash } : {}) },
    proof: p.proof,
  };
}

/** Stable reasons a receipt proof fails its offline checks. */
export type ReceiptProofFailure = "bad_signature" | "sequence_out_of_range" | "not_included" | "head_mismatch";

export type ReceiptProofCheck = { valid: true; digest: Hex } | { valid: false; reason: ReceiptProofFailure; digest: Hex };

/**
 * Checks a receipt proof without the chain: the device signed the receipt under this chain's PaymentChannels
 * domain, its sequence lies in the anchor's range, the proof leads to the anchor's root, and the last receipt of the
 * range is the anchor's head. The caller still checks the anchor on-chain (FlightRecorder.isAnchored) and the
 * receipt's hashes against its own input, output and the model registry.
 */
export async function checkReceiptProof(p: ReceiptProof, chainId: number, paymentChannels: Address): Promise<ReceiptProofCheck> {
  const digest = receiptDigest(p.receipt, chainId, paymentChannels);
  let signer: Address;
  try {
    signer = await recoverReceiptSigner(p.receipt, chainId, paymentChannels);
  } catch {
    return { valid: false, reason: "bad_signature", digest };
  }
  if (!isAddressEqual(signer, p.device)) return { valid: false, reason: "bad_signature", digest };
  const { root, fromSeq, toSeq, head } = p.anchor;
  if (p.receipt.sequence < fromSeq || p.receipt.sequence > toSeq) return { valid: false, reason: "sequence_out_of_range", digest };
  if (processProof(p.proof, receiptLeaf(digest)) !== root.toLowerCase()) return { valid: false, reason: "not_included", digest };
  if (p.receipt.sequence === toSeq && digest.toLowerCase() !== head.toLowerCase()) return { valid: false, reason: "head_mismatch", digest };
  return { valid: true, digest };
}

/** Stable reasons a run of receipts is not one unbroken hash chain. */
export type ChainFailure = "sequence_gap" | "previous_mismatch";

export type ChainCheck = { valid: true; head: Hex } | { valid: false; reason: ChainFailure; sequence: bigint };

/**
 * Checks that `receipts` (in sequence order) are consecutive and each commits to its predecessor's digest.
 * `previous` is the digest before the first one (zero for a chain starting at sequence 1), if known.
 */
export function checkHashChain(
  receipts: readonly Receipt[],
  chainId: number,
  paymentChannels: Address,
  previous?: Hex,
): ChainCheck {
  let prevDigest = previous?.toLowerCase();
  let prevSeq: bigint | undefined;
  let head: Hex = ZERO;
  for (const r of receipts) {
    if (prevSeq !== undefined && r.sequence !== prevSeq + 1n) return { valid: false, reason: "sequence_gap", sequence: r.sequence };
    if (r.sequence === 1n && r.previous.toLowerCase() !== ZERO) return { valid: false, reason: "previous_mismatch", sequence: r.sequence };
    if (prevDigest !== undefined && r.previous.toLowerCase() !== prevDigest) {
      return { valid: false, reason: "previous_mismatch", sequence: r.sequence };
    }
    head = receiptDigest(r, chainId, paymentChannels);
    prevDigest = head.toLowerCase();
    prevSeq = r.sequence;
  }
  return { valid: true, head };
}

const ZERO = `0x${"0".repeat(64)}` as Hex;

export type MeteringFailure = "amount_not_units_x_price" | "zero_units";

/**
 * Metered pricing, checked offline over consecutive receipts of one channel (sorted by amount): each answer's
 * amount increment must be exactly its signed units x the channel's price per unit (the price in the channel's
 * terms). The first receipt is checked against `startAmount` (0 for a channel's first answer) when given.
 */
export function checkMetering(
  receipts: readonly Pick<SignedReceipt, "cumulativeAmount" | "units" | "sequence">[],
  price: bigint,
  startAmount?: bigint,
): { valid: true } | { valid: false; reason: MeteringFailure; sequence: bigint } {
  let previous = startAmount;
  for (const r of receipts) {
    if (r.units < 1n) return { valid: false, reason: "zero_units", sequence: r.sequence };
    if (previous !== undefined && r.cumulativeAmount - previous !== r.units * price) {
      return { valid: false, reason: "amount_not_units_x_price", sequence: r.sequence };
    }
    previous = r.cumulativeAmount;
  }
  return { valid: true };
}
