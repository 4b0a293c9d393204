"use client";
import { useQuery } from "@tanstack/react-query";
import { usePublicClient } from "wagmi";
import { readModels } from "../lib/chain-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Every published model version with its current terms (refreshed on each block). */
export function useModels() {
  const config = useEdgepay();
  const client = usePublicClient();
  return useQuery({
    queryKey: ["edgepay", "models", config.contracts.modelRegistry],
    queryFn: () => readModels(client!, config),
    enabled: !!client,
  });
}
