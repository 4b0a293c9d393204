// A device's reputation from what the chain says about it, and the score buyers route by. Pure: no I/O here (the
// reading is protocol/reputation.ts, the indexer computes the same counts from its tables).

/** What the chain says about one device. Counts of events; amounts in stake-token units. */
export interface ReputationCounts {
  /** Receipts the device anchored in the FlightRecorder (sum of anchored ranges). */
  receiptsAnchored: bigint;
  /** Spot checks buyers reported to DeviceReputation (tag1 "spotCheck", not revoked): value > 0 passed, else failed. */
  spotChecksPassed: number;
  spotChecksFailed: number;
  /** Distinct buyers with at least one failed spot check (what the score counts: one buyer cannot sink a device). */
  failingClients: number;
  /** Uptime reports (tag1 "uptime", not revoked) and their mean in basis points (null when none). */
  uptimeReports: number;
  uptimeBps: number | null;
  /** Disputes decided for the device: AnswerDisputes ReporterLost, FlightRecorder OmissionAnswered. */
  disputesWon: number;
  /** Disputes decided against it: AnswerDisputes DeviceLost, FlightRecorder EquivocationProven, OmissionEnforced. */
  disputesLost: number;
  /** Transactions with DeviceRegistry DeviceSlashed logs (a dispute's payout to several beneficiaries is one) and their total. */
  slashes: number;
  slashedAmount: bigint;
}

export const EMPTY_COUNTS: ReputationCounts = {
  receiptsAnchored: 0n,
  spotChecksPassed: 0,
  spotChecksFailed: 0,
  failingClients: 0,
  uptimeReports: 0,
  uptimeBps: null,
  disputesWon: 0,
  disputesLost: 0,
  slashes: 0,
  slashedAmount: 0n,
};

/** A failing buyer weighs this many passed checks. */
export const FAILURE_WEIGHT = 3;

/**
 * Score 0..100 (integer). 100 x checks x uptime x disputes x slashes, where
 * - checks = (passed + 1) / (passed + FAILURE_WEIGHT x failingClients + 2): Laplace's rule, so a device nobody
 *   checked starts at 50 and passes move it toward 100; failures count once per distinct buyer who saw one, so a
 *   buyer posting many failures weighs as one (feedback needs a paid channel, so each extra buyer costs a deposit);
 * - uptime = uptimeBps / 10,000 as buyers saw it (1 when nobody reported);
 * - disputes = (won + 1) / (won + 1 + 2 x lost): a lost dispute costs more than a won one earns;
 * - slashes = 1 / 2^slashes.
 * Anchored receipts are shown beside the score, not in it: volume says little about correctness.
 * Monotone: never rises with failingClients, disputesLost or slashes; never falls with spotChecksPassed or disputesWon.
 */
export function reputationScore(c: ReputationCounts): number {
  const passed = Math.max(0, c.spotChecksPassed);
  const failing = Math.max(0, c.failingClients);
  const checks = (passed + 1) / (passed + FAILURE_WEIGHT * failing + 2);
  const uptime = c.uptimeBps === null ? 1 : Math.min(10_000, Math.max(0, c.uptimeBps)) / 10_000;
  const won = Math.max(0, c.disputesWon);
  const disputes = (won + 1) / (won + 1 + 2 * Math.max(0, c.disputesLost));
  const slashes = 1 / 2 ** Math.max(0, c.slashes);
  const score = Math.floor(100 * checks * uptime * disputes * slashes);
  return Number.isFinite(score) ? Math.min(100, Math.max(0, score)) : 0;
}

/** One device offering a model, as routing sees it. */
export interface RoutedOffer<T> {
  item: T;
  price: bigint;
  score: number;
  quarantined: boolean;
}

/**
 * Routing order: devices this buyer quarantined are dropped; the rest by price per reputation point
 * (price x 100 / max(score, 1)) ascending, so a device with half the score must be under half the price to be tried
 * first; ties keep the caller's order.
 */
export function rankOffers<T>(offers: readonly RoutedOffer<T>[]): T[] {
  const cost = (o: RoutedOffer<T>) => (o.price * 100n) / BigInt(Math.max(1, Math.floor(o.score)));
  return offers
    .map((o, i) => ({ o, i, k: cost(o) }))
    .filter(({ o }) => !o.quarantined)
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map(({ o }) => o.item);
}
