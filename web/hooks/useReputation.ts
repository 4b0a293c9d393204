"use client";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { IndexerError } from "../../protocol/indexer/client.ts";
import { readReputation } from "../../protocol/reputation.ts";
import { indexedReputation } from "../lib/reputation-batch.ts";
import { useListSource } from "./useListSource.ts";

/**
 * A device's reputation (anchors, feedback, disputes, slashes, score): from the indexer's `reputation` table when
 * configured (badges of one list share one request), else from the chain's logs (protocol/reputation.ts).
 */
export function useReputation(device: Address | undefined) {
  const src = useListSource();
  return useQuery({
    queryKey: ["edgepay", "reputation", src?.config.contracts.deviceRegistry, src?.indexer?.url ?? null, device ?? null],
    queryFn: async () => {
      const { client, config, indexer } = src!;
      if (indexer) {
        try {
          return await indexedReputation(indexer, device!);
        } catch (error) {
          // Unreachable: the chain answers instead (the index banner says so); any other indexer error is shown.
          if (!(error instanceof IndexerError) || error.code !== "indexer_unreachable") throw error;
        }
      }
      const { deviceRegistry, flightRecorder, answerDisputes, deviceReputation } = config.contracts;
      return readReputation(client, { deviceRegistry, flightRecorder, answerDisputes, deviceReputation }, device!, { fromBlock: BigInt(config.fromBlock) });
    },
    enabled: !!src && !!device,
    refetchInterval: 15_000,
  });
}
