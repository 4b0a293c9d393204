// The activity history: every transaction and signature the dashboard asked for, kept in IndexedDB per account and
// chain, so it survives a reload and never shows one account's activity to another.
import type { TxEntry } from "../hooks/useTxRunner.ts";
import { listScope, putAll } from "./idb.ts";

const SPEC = { db: "edgepay-activity", store: "entries" };

export interface StoredActivity {
  key: string;
  scope: string;
  label: string;
  status: TxEntry["status"];
  hash?: string;
  message?: string;
  gasUsed?: string;
  at: number;
}

export function activityScope(chainId: number, account: string): string {
  return `${chainId}:${account.toLowerCase()}`;
}

export async function saveActivity(entries: readonly TxEntry[]): Promise<void> {
  const records: StoredActivity[] = entries
    .filter((e) => e.scope)
    .map((e) => ({ key: e.uid, scope: e.scope!, label: e.label, status: e.status, hash: e.hash, message: e.message, gasUsed: e.gasUsed?.toString(), at: e.at }));
  if (records.length) await putAll(SPEC, records);
}

export async function loadActivity(scope: string): Promise<TxEntry[]> {
  const rows = await listScope<StoredActivity>(SPEC, scope);
  return rows
    .sort((a, b) => b.at - a.at)
    .map((r) => ({
      id: 0,
      uid: r.key,
      scope: r.scope,
      at: r.at,
      label: r.label,
      // A step still waiting when the page went away has no known outcome here.
      status: r.status === "wallet" || r.status === "pending" ? ("pending" as const) : r.status,
      hash: r.hash as TxEntry["hash"],
      message: r.message,
      gasUsed: r.gasUsed !== undefined ? BigInt(r.gasUsed) : undefined,
    }));
}
