"use client";
import { useCallback, useRef, useState } from "react";
import type { Hash, TransactionReceipt } from "viem";
import { useConfig } from "wagmi";
import { waitForTransactionReceipt } from "wagmi/actions";
import { describeError, isUserRejection } from "../lib/errors.ts";

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
  const [entries, setEntries] = useState<TxEntry[]>([]);

  const update = useCallback((id: number, patch: Partial<TxEntry>) => {
    setEntries((list) => list.map((e) => (e.id === id ? { ...e, ...patch } : e)));
  }, []);

  /** Sends a transaction and waits for it; resolves to the receipt, or undefined when it did not succeed. */
  const send = useCallback(
    async (label: string, submit: () => Promise<Hash>, action?: string): Promise<TransactionReceipt | undefined> => {
      const id = nextId++;
      setEntries((list) => [{ id, label, status: "wallet" as const, action }, ...list].slice(0, 12));
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

  /** A wallet signature (no transaction): resolves to its result, or undefined when refused or failed. */
  const sign = useCallback(
    async <T,>(label: string, ask: () => Promise<T>, action?: string): Promise<T | undefined> => {
      const id = nextId++;
      setEntries((list) => [{ id, label, status: "wallet" as const, action }, ...list].slice(0, 12));
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

  /** Records a failure found before anything was sent (bad input). */
  const fail = useCallback((label: string, message: string, action?: string) => {
    setEntries((list) => [{ id: nextId++, label, status: "failed" as const, message, action }, ...list].slice(0, 12));
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
      setStarted((s) => ({ ...s, [action]: nextId }));
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

  const busy = entries.some((e) => e.status === "wallet" || e.status === "pending");
  return { entries, send, sign, fail, busy, guard, isPending, errorOf };
}
