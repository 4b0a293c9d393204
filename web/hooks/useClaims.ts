"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { readClaims, readTxCosts } from "../lib/chain-reads.ts";
import { readAll, readClaimsPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

/** Claimed events (all, or for one payee) with the gas each claim transaction cost (receipts are live reads). */
export function useClaims(payee?: Address) {
  const src = useListSource();
  return useQuery({
    queryKey: ["edgepay", "claims", src?.config.contracts.paymentChannels, payee ?? null, src?.indexer?.url ?? null],
    queryFn: async () => {
      const claims = await readAll(src!, (s, p) => readClaimsPage(s, payee ? { payee } : {}, p), () => readClaims(src!.client, src!.config, payee));
      const costs = await readTxCosts(src!.client, claims.map((c) => c.txHash));
      return { claims, costs };
    },
    enabled: !!src,
  });
}
