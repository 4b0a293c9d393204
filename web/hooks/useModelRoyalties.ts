"use client";
import { useQuery } from "@tanstack/react-query";
import type { ClaimInfo } from "../lib/chain-reads.ts";
import { readAll, readClaimsPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

/**
 * The claims that paid a royalty to each of `modelIds`, oldest first: the database picks them by model (only the
 * owner's models, not every claim of the market); without an indexer, paged log scans joined with the channels'
 * openings.
 */
export function useModelRoyalties(modelIds: readonly bigint[]) {
  const src = useListSource();
  const ids = [...modelIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return useQuery({
    queryKey: ["edgepay", "modelRoyalties", src?.config.contracts.paymentChannels, ids.map(String), src?.indexer?.url ?? null],
    queryFn: async (): Promise<Map<bigint, ClaimInfo[]>> => {
      const out = new Map<bigint, ClaimInfo[]>();
      for (const modelId of ids) {
        const byModel = (page: Parameters<typeof readClaimsPage>[2]) => readClaimsPage(src!, { modelIds: [modelId] }, { ...page, orderDirection: "asc" });
        const claims = await readAll(src!, (_s, p) => byModel(p), async () => (await byModel({ offset: 0, limit: Number.MAX_SAFE_INTEGER })).items);
        out.set(
          modelId,
          claims.filter((c) => c.royalty > 0n),
        );
      }
      return out;
    },
    enabled: !!src && ids.length > 0,
  });
}
