// The reputation score (protocol/reputation-score.ts) and routing order: bounded, monotone in the bad signals, and
// routing drops quarantined devices and trades price against reputation. Pure functions, property-tested.
import { expect } from "chai";
import fc from "fast-check";
import { EMPTY_COUNTS, FAILURE_WEIGHT, rankOffers, reputationScore, type ReputationCounts } from "../../protocol/reputation-score.ts";
import { feedbackCounts, uptimeBps } from "../../protocol/reputation.ts";

const small = fc.nat({ max: 10_000 });
const counts: fc.Arbitrary<ReputationCounts> = fc.record({
  receiptsAnchored: fc.bigInt({ min: 0n, max: 10n ** 12n }),
  spotChecksPassed: small,
  spotChecksFailed: small,
  failingClients: small,
  uptimeReports: small,
  uptimeBps: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: null }),
  disputesWon: small,
  disputesLost: small,
  slashes: fc.nat({ max: 64 }),
  slashedAmount: fc.bigInt({ min: 0n, max: 10n ** 24n }),
});
const bump = fc.integer({ min: 1, max: 1_000 });

describe("reputation score", () => {
  it("is an integer in 0..100 for any counts, and 50 for a device nobody rated", () => {
    fc.assert(
      fc.property(counts, (c) => {
        const s = reputationScore(c);
        return Number.isInteger(s) && s >= 0 && s <= 100;
      }),
    );
    expect(reputationScore(EMPTY_COUNTS)).to.equal(50);
  });

  it("never rises with more failing buyers, lost disputes or slashes", () => {
    fc.assert(
      fc.property(counts, bump, (c, k) => {
        const s = reputationScore(c);
        return (
          reputationScore({ ...c, failingClients: c.failingClients + k }) <= s &&
          reputationScore({ ...c, disputesLost: c.disputesLost + k }) <= s &&
          reputationScore({ ...c, slashes: c.slashes + Math.min(k, 8) }) <= s
        );
      }),
    );
  });

  it("never falls with more passed checks or won disputes, or a higher uptime", () => {
    fc.assert(
      fc.property(counts, bump, (c, k) => {
        const s = reputationScore(c);
        const up = c.uptimeBps === null ? null : Math.min(10_000, c.uptimeBps + k);
        return (
          reputationScore({ ...c, spotChecksPassed: c.spotChecksPassed + k }) >= s &&
          reputationScore({ ...c, disputesWon: c.disputesWon + k }) >= s &&
          reputationScore({ ...c, uptimeBps: up }) >= s
        );
      }),
    );
  });

  it("documented points: one failing buyer after 10 passes, one slash, one lost dispute", () => {
    // (10 + 1) / (10 + 3 + 2) = 0.733
    expect(reputationScore({ ...EMPTY_COUNTS, spotChecksPassed: 10, spotChecksFailed: 5, failingClients: 1 })).to.equal(73);
    expect(FAILURE_WEIGHT).to.equal(3);
    expect(reputationScore({ ...EMPTY_COUNTS, spotChecksPassed: 98 })).to.equal(99);
    expect(reputationScore({ ...EMPTY_COUNTS, slashes: 1 })).to.equal(25);
    expect(reputationScore({ ...EMPTY_COUNTS, disputesLost: 1 })).to.equal(16); // 50 x 1/3
    expect(reputationScore({ ...EMPTY_COUNTS, uptimeBps: 9_000 })).to.equal(45);
  });
});

describe("feedback counts", () => {
  const a = "0x00000000000000000000000000000000000000aa" as const;
  const b = "0x00000000000000000000000000000000000000bb" as const;
  it("counts passes and failures, failing buyers once each, skips revoked entries, averages uptime in bps", () => {
    const c = feedbackCounts([
      { client: a, value: 1n, valueDecimals: 0, tag1: "spotCheck", revoked: false },
      { client: a, value: 0n, valueDecimals: 0, tag1: "spotCheck", revoked: false },
      { client: a, value: 0n, valueDecimals: 0, tag1: "spotCheck", revoked: false },
      { client: b, value: 0n, valueDecimals: 0, tag1: "spotCheck", revoked: true },
      { client: b, value: 9_950n, valueDecimals: 2, tag1: "uptime", revoked: false },
      { client: a, value: 90n, valueDecimals: 0, tag1: "uptime", revoked: false },
      { client: a, value: 5n, valueDecimals: 0, tag1: "starred", revoked: false },
    ]);
    expect(c).to.deep.equal({ spotChecksPassed: 1, spotChecksFailed: 2, failingClients: 1, uptimeReports: 2, uptimeBps: 9_475 });
    expect([uptimeBps(101n, 0), uptimeBps(-3n, 0), uptimeBps(99_999n, 3)]).to.deep.equal([10_000, 0, 9_999]);
  });
});

describe("routing by price and reputation", () => {
  it("drops quarantined devices and orders by price per reputation point, ties in the caller's order", () => {
    const order = rankOffers([
      { item: "cheap-rogue", price: 800n, score: 20, quarantined: false }, // 4,000
      { item: "quarantined", price: 100n, score: 100, quarantined: true },
      { item: "reputable", price: 1_000n, score: 90, quarantined: false }, // 1,111
      { item: "new", price: 1_000n, score: 50, quarantined: false }, // 2,000
      { item: "reputable-too", price: 1_000n, score: 90, quarantined: false },
      { item: "slashed-to-zero", price: 1n, score: 0, quarantined: false }, // 100
    ]);
    expect(order).to.deep.equal(["slashed-to-zero", "reputable", "reputable-too", "new", "cheap-rogue"]);
  });

  it("never puts a device before a cheaper one with an equal or better score", () => {
    const offer = fc.record({ price: fc.bigInt({ min: 0n, max: 10n ** 12n }), score: fc.integer({ min: 0, max: 100 }), quarantined: fc.boolean() });
    fc.assert(
      fc.property(fc.array(offer, { maxLength: 12 }), (offers) => {
        const ranked = rankOffers(offers.map((o, i) => ({ ...o, item: i })));
        if (ranked.some((i) => offers[i]!.quarantined)) return false;
        for (let x = 0; x < ranked.length; x++) {
          for (let y = x + 1; y < ranked.length; y++) {
            const first = offers[ranked[x]!]!;
            const later = offers[ranked[y]!]!;
            if (later.price < first.price && later.score >= first.score && Math.max(1, later.score) >= Math.max(1, first.score)) return false;
          }
        }
        return ranked.length === offers.filter((o) => !o.quarantined).length;
      }),
    );
  });
});
