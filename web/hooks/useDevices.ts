"use client";
import { useQuery } from "@tanstack/react-query";
import { readDevices } from "../lib/chain-reads.ts";
import { readAll, readDevicesPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

/** Every registered device with its status, stake, endpoint and live offerings (from the indexer when configured). */
export function useDevices() {
  const src = useListSource();
  return useQuery({
    queryKey: ["edgepay", "devices", src?.config.contracts.deviceRegistry, src?.indexer?.url ?? null],
    // 100 devices per page: each page's offerings come in one more request, capped at 1,000 rows.
    queryFn: () => readAll(src!, (s, p) => readDevicesPage(s, {}, { ...p, limit: Math.min(p.limit, 100) }), () => readDevices(src!.client, src!.config), 100),
    enabled: !!src,
  });
}
