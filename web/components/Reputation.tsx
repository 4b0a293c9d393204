"use client";
import type { Address } from "viem";
import { useReputation } from "../hooks/useReputation.ts";

/** Badge colour by score (0..100, protocol/reputation-score.ts): 50 is a device nobody rated yet. */
function tier(score: number): "ok" | "warn" | "bad" {
  return score >= 70 ? "ok" : score >= 40 ? "warn" : "bad";
}

/** A device's reputation: a score badge (compact, for lists) or the badge and every count behind it. */
export function Reputation({ device, detailed = false }: { device: Address; detailed?: boolean }) {
  const rep = useReputation(device);
  if (rep.isLoading) return <span className="muted">…</span>;
  if (rep.error || !rep.data) return <span className="muted" title={rep.error?.message}>unknown</span>;
  const r = rep.data;
  const title = `${r.spotChecksPassed} spot checks passed, ${r.spotChecksFailed} failed (${r.failingClients} buyers), disputes ${r.disputesWon} won / ${r.disputesLost} lost, ${r.slashes} slashes`;
  const badge = (
    <span className={`badge ${tier(r.score)}`} data-reputation-score={r.score} title={title}>
      {r.score}/100
    </span>
  );
  if (!detailed) return badge;
  return (
    <div className="stats" aria-label="reputation">
      <div className="stat">
        Score<b>{badge}</b>
      </div>
      <div className="stat">
        Receipts anchored<b data-testid="reputation-anchored">{r.receiptsAnchored.toString()}</b>
      </div>
      <div className="stat">
        Spot checks
        <b data-testid="reputation-checks">
          {r.spotChecksPassed} passed, {r.spotChecksFailed} failed{r.failingClients > 0 ? ` (${r.failingClients} buyer${r.failingClients === 1 ? "" : "s"})` : ""}
        </b>
      </div>
      <div className="stat">
        Uptime seen by buyers<b>{r.uptimeBps === null ? "no report" : `${(r.uptimeBps / 100).toFixed(2)} % (${r.uptimeReports})`}</b>
      </div>
      <div className="stat">
        Disputes<b data-testid="reputation-disputes">{r.disputesWon} won, {r.disputesLost} lost</b>
      </div>
      <div className="stat">
        Slashes<b data-testid="reputation-slashes">{r.slashes}</b>
      </div>
    </div>
  );
}
