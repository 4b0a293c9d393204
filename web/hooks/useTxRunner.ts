"use client";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Hash, TransactionReceipt } from "viem";
import { useConfig, useConnection } from "wagmi";
import { waitForTransactionReceipt } from "wagmi/actions";
import { describeError, isUserRejection } from "../lib/errors.ts";
import { activityScope, saveActivity } from "../lib/activity-store.ts";
import { useEdgepay } from "./useEdgepay.ts";

const newUid = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

export type TxStatus = "wallet" | "pending" | "confirmed" | "failed" | "rejected" | "signed";

export interface TxEntry {
  id: number;
  label: string;
  status: TxStatus;
  hash?: Hash;
  message?: string;
  gasUsed?: bigint;
  /** The form action (see `guard`) this entry belongs to: its failure is shown next to that form. */
  action?: string;
  /** Unique across reloads (the key in the activity history). */
  uid: string;
  /** Account and chain the entry was made for (see activityScope). */
  scope?: string;
  /** Unix ms when it was asked for. */
  at: number;
}

let nextId = 1;

export interface ActionRunner {
  send(label: string, submit: () => Promise<Hash>): Promise<TransactionReceipt | undefined>;
  sign<T>(label: string, ask: () => Promise<T>): Promise<T | undefined>;
  fail(label: string, message: string): void;
}

/**
 * Runs transactions and signatures one step at a time and keeps a visible log of each: waiting for the wallet,
 * pending with its hash, confirmed, failed (with the decoded reason) or rejected by the person.
 */
export function useTxRunner() {
  const config = useConfig();
  const edgepay = useEdgepay();
  const { address } = useConnection();
  const scope = address ? activityScope(edgepay.chainId, address) : undefined;
  const scopeRef = useRef(scope);
  useEffect(() => {
    scopeRef.current = scope;
  }, [scope]);
  const [all, setEntries] = useState<TxEntry[]>([]);
  /** Labels of steps waiting for the wallet or the chain. */
  const inFlight = useRef(new Set<string>());
  // Only the connected account's entries on this chain: switching accounts does not show the previous one's.
  const entries = useMemo(() => all.filter((e) => e.scope === scope), [all, scope]);
  // Every change is written to the activity history (IndexedDB, per account and chain).
  useEffect(() => {
    saveActivity(all).catch((e: unknown) => console.warn("activity history not saved:", e));
  }, [all]);
  const entry = (label: string, status: TxStatus, extra: Partial<TxEntry> = {}): TxEntry => ({
    id: nextId++,
    uid: newUid(),
    scope: scopeRef.current,
    at: Date.now(),
    label,
    status,
    ...extra,
  });

  const update = useCallback((id: number, patch: Partial<TxEntry>) => {
    setEntries((list) => list.map((e) => (e.id === id ? { ...e, ...patch } : e)));
  }, []);


  const sendOnce = useCallback(
    async (label: string, submit: () => Promise<Hash>, action?: string): Promise<TransactionReceipt | undefined> => {
      const e = entry(label, "wallet", { action });
      const id = e.id;
      setEntries((list) => [e, ...list].slice(0, 30));
      let hash: Hash;
      try {
        hash = await submit();
      } catch (error) {
        update(id, { status: isUserRejection(error) ? "rejected" : "failed", message: describeError(error) });
        return undefined;
      }
      update(id, { status: "pending", hash });
      try {
        const receipt = await waitForTransactionReceipt(config, { hash });
        if (receipt.status !== "success") {
          update(id, { status: "failed", message: "The transaction reverted on-chain.", gasUsed: receipt.gasUsed });
          return undefined;
        }
        update(id, { status: "confirmed", gasUsed: receipt.gasUsed });
        return receipt;
      } catch (error) {
        update(id, { status: "failed", message: describeError(error) });
        return undefined;
      }
    },
    [config, update],
  );

  /** Sends a transaction and waits for it; resolves to the receipt, or undefined when it did not succeed. */
  const send = useCallback(
    async (label: string, submit: () => Promise<Hash>, action?: string): Promise<TransactionReceipt | undefined> => {
      // The same step asked again while it is in flight (a double click on a button without its own lock): ignored.
      if (inFlight.current.has(label)) return undefined;
      inFlight.current.add(label);
      try {
        return await sendOnce(label, submit, action);
      } finally {
        inFlight.current.delete(label);
      }
    },
    [sendOnce],
  );


  const signOnce = useCallback(
    async <T,>(label: string, ask: () => Promise<T>, action?: string): Promise<T | undefined> => {
      const e = entry(label, "wallet", { action });
      const id = e.id;
      setEntries((list) => [e, ...list].slice(0, 30));
      try {
        const result = await ask();
        update(id, { status: "signed" });
        return result;
      } catch (error) {
        update(id, { status: isUserRejection(error) ? "rejected" : "failed", message: describeError(error) });
        return undefined;
      }
    },
    [update],
  );

  /** A wallet signature (no transaction): resolves to its result, or undefined when refused or failed. */
  const sign = useCallback(
    async <T,>(label: string, ask: () => Promise<T>, action?: string): Promise<T | undefined> => {
      if (inFlight.current.has(label)) return undefined;
      inFlight.current.add(label);
      try {
        return await signOnce(label, ask, action);
      } finally {
        inFlight.current.delete(label);
      }
    },
    [signOnce],
  );

  /** Records a failure found before anything was sent (bad input). */
  const fail = useCallback((label: string, message: string, action?: string) => {
    const e = entry(label, "failed", { message, action });
    setEntries((list) => [e, ...list].slice(0, 30));
  }, []);

  // Per-action lock: a second click while an action is in flight (even before React re-renders the disabled
  // button) does nothing, so one click sends at most one set of transactions.
  const locks = useRef(new Set<string>());
  const [pending, setPending] = useState<readonly string[]>([]);
  const [started, setStarted] = useState<Record<string, number>>({});

  /**
   * Runs a form's action at most once at a time. `fn` gets `send`, `sign` and `fail` bound to the action, so a
   * failure shows next to the form that caused it (see `errorOf`). Resolves undefined when already running.
   */
  const guard = useCallback(
    async <T,>(action: string, fn: (r: ActionRunner) => Promise<T>): Promise<T | undefined> => {
      if (locks.current.has(action)) return undefined;
      locks.current.add(action);
      setPending((p) => [...p, action]);
      // Read now: the updater runs at the next render, after `fn` may already have created (and numbered) its steps.
      const first = nextId;
      setStarted((s) => ({ ...s, [action]: first }));
      try {
        return await fn({
          send: (label, submit) => send(label, submit, action),
          sign: (label, ask) => sign(label, ask, action),
          fail: (label, message) => fail(label, message, action),
        });
      } catch (error) {
        fail(action, describeError(error), action);
        return undefined;
      } finally {
        locks.current.delete(action);
        setPending((p) => p.filter((k) => k !== action));
      }
    },
    [send, sign, fail],
  );

  const isPending = useCallback((action: string) => pending.includes(action), [pending]);
  /** The failure (or refusal) of the latest run of `action`, if it failed: shown next to its form. */
  const errorOf = useCallback(
    (action: string): TxEntry | undefined =>
      entries.find((e) => e.action === action && e.id >= (started[action] ?? 0) && (e.status === "failed" || e.status === "rejected")),
    [entries, started],
  );

  /** The newest step matching `match`, when it failed or was refused: for forms whose steps are named, not guarded. */
  const errorWhere = useCallback(
    (match: (label: string) => boolean): TxEntry | undefined => {
      const last = entries.find((e) => match(e.label));
      return last && (last.status === "failed" || last.status === "rejected") ? last : undefined;
    },
    [entries],
  );

  const busy = entries.some((e) => e.status === "wallet" || e.status === "pending");
  return { entries, send, sign, fail, busy, guard, isPending, errorOf, errorWhere };
}
