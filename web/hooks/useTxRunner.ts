"use client";
import { useCallback, useState } from "react";
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
}

let nextId = 1;

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
    async (label: string, submit: () => Promise<Hash>): Promise<TransactionReceipt | undefined> => {
      const id = nextId++;
      setEntries((list) => [{ id, label, status: "wallet" as const }, ...list].slice(0, 12));
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
    async <T,>(label: string, ask: () => Promise<T>): Promise<T | undefined> => {
      const id = nextId++;
      setEntries((list) => [{ id, label, status: "wallet" as const }, ...list].slice(0, 12));
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
  const fail = useCallback((label: string, message: string) => {
    setEntries((list) => [{ id: nextId++, label, status: "failed" as const, message }, ...list].slice(0, 12));
  }, []);

  const busy = entries.some((e) => e.status === "wallet" || e.status === "pending");
  return { entries, send, sign, fail, busy };
}
