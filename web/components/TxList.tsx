import type { TxEntry } from "../hooks/useTxRunner.ts";
import { shortHex } from "../lib/format.ts";

const LABEL: Record<TxEntry["status"], string> = {
  wallet: "waiting for wallet",
  pending: "pending",
  confirmed: "confirmed",
  failed: "failed",
  rejected: "rejected",
  signed: "signed",
};

/** The log of a page's transactions and signatures, newest first. */
export function TxList({ entries }: { entries: readonly TxEntry[] }) {
  if (entries.length === 0) return null;
  return (
    <ul className="txlist" aria-label="transactions">
      {entries.map((e) => (
        <li key={e.id} className={`tx tx-${e.status}`} data-status={e.status}>
          <span className="tx-status">{LABEL[e.status]}</span>
          <span className="tx-label">{e.label}</span>
          {e.hash && (
            <code className="tx-hash" title={e.hash}>
              {shortHex(e.hash, 8, 6)}
            </code>
          )}
          {e.gasUsed !== undefined && <span className="muted">{e.gasUsed.toLocaleString()} gas</span>}
          {e.message && <span className="tx-message">{e.message}</span>}
        </li>
      ))}
    </ul>
  );
}
