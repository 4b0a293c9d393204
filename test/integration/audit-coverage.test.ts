// Audit export coverage, offline: the gaps of an export against the anchored sequence, and a channel's amounts
// that do not add up across a hole. Property-checked against a plain enumeration.
import { expect } from "chai";
import fc from "fast-check";
import { anchoredGaps, channelContinuityBreaks, coverageKind, coverageLineWire } from "../../protocol/audit-coverage.ts";

describe("audit coverage: gaps and holes", () => {
  it("anchoredGaps lists exactly the anchored sequences not present, as maximal runs", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -3n, max: 70n }), { maxLength: 60 }), fc.bigInt({ min: 0n, max: 64n }), (present, anchored) => {
        const gaps = anchoredGaps(present, anchored);
        const have = new Set(present);
        const expected: bigint[] = [];
        for (let s = 1n; s <= anchored; s++) if (!have.has(s)) expected.push(s);
        const listed = gaps.flatMap((g) => {
          const out: bigint[] = [];
          for (let s = g.fromSeq; s <= g.toSeq; s++) out.push(s);
          return out;
        });
        expect(listed).to.deep.equal(expected);
        // Maximal: two gaps never touch, and each is non-empty.
        for (const [i, g] of gaps.entries()) {
          expect(g.fromSeq <= g.toSeq).to.equal(true);
          if (i > 0) expect(g.fromSeq > gaps[i - 1]!.toSeq + 1n).to.equal(true);
        }
      }),
    );
  });

  it("anchoredGaps is linear in what is present: a device with 2^63 anchored and three lines", () => {
    const gaps = anchoredGaps([1n, 2n, 5n], 2n ** 63n);
    expect(gaps).to.deep.equal([
      { fromSeq: 3n, toSeq: 4n },
      { fromSeq: 6n, toSeq: 2n ** 63n },
    ]);
    expect(anchoredGaps([], 0n)).to.deep.equal([]);
  });

  it("a channel's amounts: any receipt removed from an honest run is found, adjacent receipts are left to the metering check", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ units: fc.bigInt({ min: 1n, max: 9n }), skip: fc.nat(3) }), { minLength: 2, maxLength: 30 }),
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.nat(29),
        (steps, price, drop) => {
          // An honest channel: receipts at increasing sequences (other channels' receipts in between), amounts add up.
          let seq = 0n;
          let amount = 0n;
          const run = steps.map((s) => {
            seq += BigInt(s.skip) + 1n;
            amount += s.units * price;
            return { sequence: seq, cumulativeAmount: amount, units: s.units };
          });
          expect(channelContinuityBreaks(run, price, true)).to.deep.equal([]);
          const i = drop % run.length;
          const holed = run.filter((_, j) => j !== i);
          const breaks = channelContinuityBreaks(holed, price, true);
          const dropped = run[i]!;
          const next = run[i + 1];
          if (!next) {
            expect(breaks).to.deep.equal([]); // the last receipt removed: nothing after it to show the jump
          } else if (i > 0 && next.sequence === run[i - 1]!.sequence + 1n) {
            expect(breaks).to.deep.equal([]); // impossible by construction, kept for clarity
          } else {
            expect(breaks).to.deep.equal([{ afterSeq: i > 0 ? run[i - 1]!.sequence : undefined, beforeSeq: next.sequence, unaccounted: dropped.units * price }]);
          }
        },
      ),
    );
  });

  it("without a start at zero (time-filtered), the first receipt is not judged", () => {
    expect(channelContinuityBreaks([{ sequence: 9n, cumulativeAmount: 5000n, units: 1n }], 1000n, false)).to.deep.equal([]);
    expect(channelContinuityBreaks([{ sequence: 9n, cumulativeAmount: 5000n, units: 1n }], 1000n, true)).to.deep.equal([{ afterSeq: undefined, beforeSeq: 9n, unaccounted: 4000n }]);
  });

  it("coverage lines: strict shape, and which exports are filtered", () => {
    const base = { device: `0x${"11".repeat(20)}`, chainId: 31337, paymentChannels: `0x${"22".repeat(20)}`, receipts: 3 };
    expect(coverageKind(coverageLineWire.parse({ coverage: base }).coverage)).to.equal("complete");
    expect(coverageKind(coverageLineWire.parse({ coverage: { ...base, from: 5 } }).coverage)).to.equal("filtered");
    expect(coverageKind(undefined)).to.equal("unstated");
    expect(coverageLineWire.safeParse({ coverage: { ...base, receipts: -1 } }).success).to.equal(false);
    expect(coverageLineWire.safeParse({ coverage: { ...base, extra: 1 } }).success).to.equal(false);
    expect(coverageLineWire.safeParse({ coverage: base, device: base.device }).success).to.equal(false);
  });
});
