"use client";
import type { Paged } from "../hooks/usePaged.ts";

/** "rows a-b of N" with previous / next, for a list read one page at a time. */
export function Pager<T>({ paged, label }: { paged: Paged<T>; label: string }) {
  const total = paged.data?.totalCount ?? 0;
  if (total <= paged.pageSize && paged.page === 0) return null;
  const first = paged.page * paged.pageSize + 1;
  const last = Math.min(total, first + paged.pageSize - 1);
  return (
    <div className="row small" data-testid={`pager-${label}`}>
      <button type="button" onClick={paged.prev} disabled={paged.page === 0} aria-label={`previous ${label}`}>
        ← Previous
      </button>
      <span className="muted" data-testid={`pager-${label}-range`}>
        {first}–{last} of {total}
      </span>
      <button type="button" onClick={paged.next} disabled={paged.page + 1 >= paged.pages} aria-label={`next ${label}`}>
        Next →
      </button>
    </div>
  );
}
