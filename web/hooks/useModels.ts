"use client";
import { useQuery } from "@tanstack/react-query";
import { readModels } from "../lib/chain-reads.ts";
import { readAll, readModelsPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

/** Every published model version with its current terms (from the indexer when configured; refreshed on each block). */
export function useModels() {
  const src = useListSource();
  return useQuery({
    queryKey: ["edgepay", "models", src?.config.contracts.modelRegistry, src?.indexer?.url ?? null],
    queryFn: () => readAll(src!, (s, p) => readModelsPage(s, {}, p), () => readModels(src!.client, src!.config)),
    enabled: !!src,
  });
}
