// The operator's budget on its own: caps at their exact boundaries, the rolling hour, persistence across a
// restart, a damaged file, and (property) that no sequence of spends ever passes a cap.
import { expect } from "chai";
import fc from "fast-check";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Budget, BudgetExceeded, type BudgetCaps } from "../../mcp/budget.ts";
import { readConfig } from "../../mcp/config.ts";

describe("mcp: budget", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "edgepay-budget-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const caps: BudgetCaps = { perCall: 100n, perHour: 250n, total: 400n };
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      expect(error).to.be.instanceOf(BudgetExceeded);
      return error as BudgetExceeded;
    }
    throw new Error("expected a refusal");
  };

  it("allows a call of exactly the per-call cap, refuses one unit more and names the excess", async () => {
    const b = await Budget.load(caps, dir);
    b.check(100n);
    const e = refusal(() => b.check(101n));
    expect([e.cap, e.limit, e.requested, e.over]).to.deep.equal(["per_call", 100n, 101n, 1n]);
    // Within one call, what it already spent counts.
    const within = refusal(() => b.check(41n, 60n));
    expect([within.cap, within.used, within.over]).to.deep.equal(["per_call", 60n, 1n]);
    expect(e.message).to.match(/the per_call cap of 100 would be exceeded by 1 /);
  });

  it("counts a rolling hour: spends older than an hour no longer count toward it, but still toward the total", async () => {
    let now = 1_000_000;
    const b = await Budget.load(caps, dir, () => now);
    await b.spend(100n);
    await b.spend(100n);
    await b.spend(50n);
    const e = refusal(() => b.check(1n));
    expect([e.cap, e.used, e.over]).to.deep.equal(["per_hour", 250n, 1n]);
    now += 3_600_000 - 1;
    refusal(() => b.check(1n));
    now += 1;
    b.check(100n);
    await b.spend(100n);
    await b.spend(50n);
    // 150 this hour, 400 in all: the total is what refuses now.
    const total = refusal(() => b.check(1n));
    expect([total.cap, total.used, total.over]).to.deep.equal(["total", 400n, 1n]);
    expect(b.status().remaining).to.deep.equal({ total: 0n, hour: 100n, perCall: 100n });
  });

  it("keeps what was spent across a restart, and refuses to start from a damaged file", async () => {
    const now = () => 5_000;
    const a = await Budget.load(caps, dir, now);
    await a.spend(99n);
    const b = await Budget.load(caps, dir, now);
    expect(b.status().spentTotal).to.equal(99n);
    expect(b.status().spentLastHour).to.equal(99n);
    expect(JSON.parse(await readFile(path.join(dir, "mcp-budget.json"), "utf8"))).to.deep.equal({ version: 1, total: "99", recent: [{ at: 5000, amount: "99" }] });
    await writeFile(path.join(dir, "mcp-budget.json"), JSON.stringify({ version: 1, total: "-5", recent: [] }));
    let failed: Error | undefined;
    await Budget.load(caps, dir).catch((e: Error) => (failed = e));
    expect(failed?.message).to.match(/is not a budget file/);
  });

  it("never lets any sequence of spends pass a cap, even when spends race", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.bigInt({ min: 0n, max: 150n }), { maxLength: 30 }), async (amounts) => {
        const d = await mkdtemp(path.join(tmpdir(), "edgepay-budget-p-"));
        try {
          const b = await Budget.load(caps, d, () => 1);
          // All at once: the in-memory count must serialise them.
          const outcomes = await Promise.allSettled(amounts.map((x) => b.spend(x)));
          const accepted = amounts.filter((_, i) => outcomes[i]!.status === "fulfilled");
          const sum = accepted.reduce((n, x) => n + x, 0n);
          expect(sum <= caps.perHour && sum <= caps.total).to.equal(true);
          expect(accepted.every((x) => x <= caps.perCall)).to.equal(true);
          expect(b.status().spentTotal).to.equal(sum);
          expect((await Budget.load(caps, d, () => 1)).status().spentTotal).to.equal(sum);
          for (const [i, o] of outcomes.entries()) if (o.status === "rejected") expect(o.reason).to.be.instanceOf(BudgetExceeded, String(amounts[i]));
        } finally {
          await rm(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  it("requires every cap, as whole base units", () => {
    const env = { EDGEPAY_MCP_MAX_PER_CALL: "1", EDGEPAY_MCP_MAX_PER_HOUR: "2", EDGEPAY_MCP_MAX_TOTAL: "3" };
    expect(readConfig([], env).caps).to.deep.equal({ perCall: 1n, perHour: 2n, total: 3n });
    expect(readConfig(["--max-total", "9"], env).caps.total).to.equal(9n);
    expect(() => readConfig([], { ...env, EDGEPAY_MCP_MAX_TOTAL: "" })).to.throw(/--max-total .* is required/);
    expect(() => readConfig([], { ...env, EDGEPAY_MCP_MAX_PER_CALL: "1.5" })).to.throw(/whole number of token base units/);
    expect(() => readConfig([], { ...env, EDGEPAY_MCP_MAX_PER_CALL: "-1" })).to.throw(/whole number/);
    expect(() => readConfig(["--deposit", "0"], env)).to.throw(/--deposit must be positive/);
    expect(() => readConfig(["--http", "70000"], env)).to.throw(/--http must be a port/);
    expect(() => readConfig(["--bogus"], env)).to.throw(/Unknown option/);
  });
});
