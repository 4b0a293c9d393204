"use client";
import { useIndexStatus } from "../hooks/useIndexStatus.ts";

/**
 * How fresh the lists on this page are: "index behind by N blocks" (the indexer's latest block against the chain head
 * read live), "caught up", or that the indexer does not answer and the lists come from the chain instead. Shown only
 * when the runtime config names an indexer.
 */
export function IndexStatus() {
  const s = useIndexStatus();
  if (s.kind === "none") return null;
  if (s.kind === "loading") return <p className="muted small" data-testid="index-status" data-state="loading">Index: checking…</p>;
  if (s.kind === "unreachable")
    return (
      <p className="badge warn" role="status" data-testid="index-status" data-state="unreachable">
        Indexer unreachable: lists are read from the chain directly (slower). {s.message}
      </p>
    );
  if (s.behind > 0n)
    return (
      <p className="badge warn" role="status" data-testid="index-status" data-state="behind" data-behind={s.behind.toString()}>
        Index behind by {s.behind.toString()} block{s.behind === 1n ? "" : "s"} (indexed {s.indexedBlock?.toString() ?? "none"}, head {s.head.toString()}): lists may miss the latest activity
      </p>
    );
  return (
    <p className="muted small" data-testid="index-status" data-state="caught-up" data-behind="0">
      Index caught up (block {s.head.toString()})
    </p>
  );
}
