"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { usePublicClient } from "wagmi";
import { readClaims, readTxCosts } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Claimed events (all, or for one payee) with the gas each claim transaction cost. */
export function useClaims(payee?: Address) {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "claims", config.contracts.paymentChannels, payee ?? null],
    queryFn: async () => {
      const claims = await readClaims(client!, config, payee);
      const costs = await readTxCosts(client!, claims.map((c) => c.txHash));
      return { claims, costs };
    },
    enabled: !!client,
  });
}
