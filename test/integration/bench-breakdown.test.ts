// The bench's verdicts (scripts/lib/bench-breakdown.ts): a goal is met exactly at its threshold and not a hair
// below; a gap names its measured cause; per-phase means are over the requests that went through each phase.
import { expect } from "chai";
import { goalLines, ISSUE_GOALS, modeCost, type ModeCost, type Window } from "../../scripts/lib/bench-breakdown.ts";
import type { TimingsSnapshot } from "../../worker/perf/phase-timings.ts";

const writer = { groups: 10, ops: 30, encodeMs: 1, decodeMs: 1, statementsMs: 2, hashMs: 1, signMs: 4, commitMs: 20, hopMs: 3 };

function snapshot(route: "paid" | "unpaid", requests: number, phases: Record<string, { ms: number; count: number }>, mainUs: number, writerUs: number): TimingsSnapshot {
  return { routes: { [route]: { requests, phases } }, writer: route === "paid" ? writer : { ...writer, groups: 0, ops: 0, commitMs: 0, signMs: 0, statementsMs: 0, hashMs: 0, decodeMs: 0, encodeMs: 0, hopMs: 0 }, cpu: { mainUs, writerUs }, events: {} };
}

function cost(route: "paid" | "unpaid", cpuSeconds: number): ModeCost {
  const w: Window = { requests: 10, seconds: 1, workerCpu: cpuSeconds, timings: snapshot(route, 10, { inference: { ms: 5, count: 10 }, ...(route === "paid" ? { "durable commit": { ms: 30, count: 10 } } : {}) }, cpuSeconds * 0.8e6, route === "paid" ? cpuSeconds * 0.1e6 : 0) };
  return modeCost([w], route);
}

describe("bench breakdown: goals and causes", () => {
  it("throughput goal: met at exactly 0.8 (1 connection) and 0.9 (8+), not met just below, with the gap and its cause", () => {
    const u = cost("unpaid", 0.01);
    const p = cost("paid", 0.012);
    expect(goalLines(1, u, p, 0.8)[0]).to.match(/>= 0\.8: met/);
    expect(goalLines(1, u, p, 0.7999)[0]).to.match(/NOT met \(gap 0\.000\).*durable commit \+3000 µs.*COMMIT .* is 2000 µs/);
    expect(goalLines(8, u, p, 0.9)[0]).to.match(/>= 0\.9: met/);
    expect(goalLines(8, u, p, 0.85)[0]).to.match(/NOT met \(gap 0\.050\).*event-loop thread busy .*writer thread busy/);
    expect(ISSUE_GOALS.minRatio(32)).to.equal(0.9);
  });

  it("CPU goal: met at exactly 1.3 x unpaid, not met above it, naming each thread's extra", () => {
    const u = cost("unpaid", 0.01);
    expect(goalLines(8, u, cost("paid", 0.013), 1)[1]).to.match(/<= 1\.3: met/);
    const line = goalLines(8, u, cost("paid", 0.0131), 1)[1]!;
    expect(line).to.match(/1\.310 > 1\.3: NOT met \(1000 -> 1310 µs\)/);
    expect(line).to.match(/event-loop thread \+248 µs, writer thread \+131 µs/);
  });

  it("a phase's mean is over the requests that went through it, not over answered requests only", () => {
    const w: Window = { requests: 2, seconds: 1, timings: snapshot("paid", 2, { header: { ms: 4, count: 4 }, inference: { ms: 2, count: 2 } }, 0, 0) };
    const c = modeCost([w], "paid");
    expect(c.phases.header).to.equal(1000);
    expect(c.phases.inference).to.equal(1000);
    expect(c.cpuUs).to.equal(undefined);
  });
});
