"use client";
import { useQuery } from "@tanstack/react-query";
import { readLicenses } from "../lib/chain-reads.ts";
import { readAll, readLicensesPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

/** Every license taken (from the indexer when configured, else LicenseTaken events). */
export function useLicenses() {
  const src = useListSource();
  return useQuery({
    queryKey: ["edgepay", "licenses", src?.config.contracts.modelRegistry, src?.indexer?.url ?? null],
    queryFn: () => readAll(src!, (s, p) => readLicensesPage(s, {}, p), () => readLicenses(src!.client, src!.config)),
    enabled: !!src,
  });
}
