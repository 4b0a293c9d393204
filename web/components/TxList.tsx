"use client";
import { useEffect, useState } from "react";
import { useConnection } from "wagmi";
import type { TxEntry } from "../hooks/useTxRunner.ts";
import { useEdgepay } from "../hooks/useEdgepay.ts";
import { activityScope, loadActivity } from "../lib/activity-store.ts";
import { CopyHash } from "./CopyHash.tsx";

const LABEL: Record<TxEntry["status"], string> = {
  wallet: "waiting for wallet",
  pending: "pending",
  confirmed: "confirmed",
  failed: "failed",
  rejected: "rejected",
  signed: "signed",
};

/**
 * The connected account's activity on this chain, newest first: this page's live steps, then the history kept in
 * IndexedDB (it survives reloads and is per account and chain). Transactions in flight also show as toasts.
 */
export function TxList({ entries }: { entries: readonly TxEntry[] }) {
  const edgepay = useEdgepay();
  const { address } = useConnection();
  const scope = address ? activityScope(edgepay.chainId, address) : undefined;
  const [history, setHistory] = useState<{ scope: string; list: TxEntry[] }>();
  useEffect(() => {
    if (!scope) return;
    let cancelled = false;
    loadActivity(scope)
      .then((list) => !cancelled && setHistory({ scope, list }))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [scope]);
  const live = new Set(entries.map((e) => e.uid));
  const past = history && history.scope === scope ? history.list.filter((e) => !live.has(e.uid)) : [];
  const shown = [...entries, ...past].slice(0, 50);
  return (
    <>
      <Toasts entries={entries} />
      {shown.length > 0 && (
        <section aria-label="activity">
          <h2>Activity</h2>
          <ul className="txlist" aria-label="transactions">
            {shown.map((e) => (
              <li key={e.uid} className={`tx tx-${e.status}`} data-status={e.status} data-past={!live.has(e.uid) || undefined}>
                <span className="tx-status">{LABEL[e.status]}</span>
                <span className="tx-label">{e.label}</span>
                {e.hash && <CopyHash hash={e.hash} />}
                {e.gasUsed !== undefined && <span className="muted">{e.gasUsed.toLocaleString()} gas</span>}
                <span className="muted small">{new Date(e.at).toLocaleTimeString()}</span>
                {e.message && <span className="tx-message">{e.message}</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

/** This page's steps of the last few seconds, in a corner that stays in view: what is waiting, what just happened. */
function Toasts({ entries }: { entries: readonly TxEntry[] }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const recent = entries.filter((e) => e.status === "wallet" || e.status === "pending" || now - e.at < 10_000).slice(0, 3);
  if (recent.length === 0) return null;
  return (
    <div className="toasts" aria-live="polite">
      {recent.map((e) => (
        <div key={e.uid} className={`toast tx-${e.status}`} data-testid="toast" data-status={e.status}>
          <b className="tx-status">{LABEL[e.status]}</b> {e.label} {e.hash && <CopyHash hash={e.hash} />}
        </div>
      ))}
    </div>
  );
}
