// Merkle trees over receipts, exactly as FlightRecorder verifies them with OpenZeppelin's MerkleProof:
// leaf = keccak256(receipt digest), inner node = keccak256 of the two children sorted ascending.
// Browser-compatible (viem only).
import { concat, keccak256, type Hex } from "viem";

/**
 * A tree's levels, from the leaves (level 0) to the root (last level, one node).
 * An odd node at the end of a level moves up unchanged: duplicating it instead would let two different leaf
 * lists share a root.
 */
export interface MerkleTree {
  readonly levels: readonly (readonly Hex[])[];
  readonly root: Hex;
}

/**
 * The leaf of a receipt: keccak256 of its EIP-712 digest, so the typed data are hashed twice. A leaf is the hash of
 * 32 bytes and an inner node the hash of 64, so no inner node can be presented as a leaf (the second-preimage attack
 * on Merkle trees), and no value the device signs is itself a node of its tree.
 */
export function receiptLeaf(digest: Hex): Hex {
  return keccak256(digest);
}

/** Parent of two nodes, order-independent (OpenZeppelin's commutative pair hash). */
export function hashPair(a: Hex, b: Hex): Hex {
  const x = a.toLowerCase() as Hex;
  const y = b.toLowerCase() as Hex;
  // Equal-length lower-case hex compares like the numbers it encodes.
  return keccak256(x < y ? concat([x, y]) : concat([y, x]));
}

/** Builds the tree over `leaves` in the given order (for receipts: by sequence). */
export function buildTree(leaves: readonly Hex[]): MerkleTree {
  if (leaves.length === 0) throw new Error("a Merkle tree needs at least one leaf");
  for (const leaf of leaves) assertBytes32(leaf);
  const levels: Hex[][] = [leaves.map((l) => l.toLowerCase() as Hex)];
  let level = levels[0]!;
  while (level.length > 1) {
    const next: Hex[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? hashPair(level[i]!, level[i + 1]!) : level[i]!);
    }
    levels.push(next);
    level = next;
  }
  return { levels, root: level[0]! };
}

/** The tree over receipts given by their digests, in sequence order. */
export function buildReceiptTree(digests: readonly Hex[]): MerkleTree {
  return buildTree(digests.map(receiptLeaf));
}

/** Root of the tree over `leaves`. */
export function merkleRoot(leaves: readonly Hex[]): Hex {
  return buildTree(leaves).root;
}

/** The sibling path of leaf `index`, bottom-up, as OpenZeppelin's MerkleProof.verify expects it. */
export function getProof(tree: MerkleTree, index: number): Hex[] {
  const width = tree.levels[0]!.length;
  if (!Number.isInteger(index) || index < 0 || index >= width) {
    throw new RangeError(`leaf index ${index} outside the tree (0..${width - 1})`);
  }
  const proof: Hex[] = [];
  let i = index;
  for (const level of tree.levels.slice(0, -1)) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1;
    // A lone last node has no sibling: it moved up unchanged.
    if (sibling < level.length) proof.push(level[sibling]!);
    i = Math.floor(i / 2);
  }
  return proof;
}

/** The root a proof leads to from `leaf`. */
export function processProof(proof: readonly Hex[], leaf: Hex): Hex {
  assertBytes32(leaf);
  let node = leaf.toLowerCase() as Hex;
  for (const sibling of proof) {
    assertBytes32(sibling);
    node = hashPair(node, sibling);
  }
  return node;
}

/** Whether `proof` proves `leaf` in the tree with `root`. Malformed input is simply not a proof. */
export function verifyProof(proof: readonly Hex[], root: Hex, leaf: Hex): boolean {
  if (!isBytes32(root) || !isBytes32(leaf) || !proof.every(isBytes32)) return false;
  return processProof(proof, leaf) === root.toLowerCase();
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

function isBytes32(value: unknown): value is Hex {
  return typeof value === "string" && BYTES32.test(value);
}

function assertBytes32(value: Hex): void {
  if (!isBytes32(value)) throw new TypeError(`expected 32 bytes of hex, got ${String(value)}`);
}
