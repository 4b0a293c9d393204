"use client";
import { readMarketDevicesPage, type MarketFilter, type MarketSort } from "../lib/market-reads.ts";
import type { DeviceInfo } from "../lib/chain-reads.ts";
import { usePaged, type Paged } from "./usePaged.ts";

/** The Market's device list, one page at a time; the source (indexer database, else chain) sorts and filters. */
export function useMarketDevices(filter: MarketFilter, sort: MarketSort): Paged<DeviceInfo> {
  return usePaged(["market-devices", filter.modelId?.toString() ?? "all", filter.text ?? "", sort], (src, page) => readMarketDevicesPage(src, filter, sort, page));
}
