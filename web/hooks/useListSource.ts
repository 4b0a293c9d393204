"use client";
import { useMemo } from "react";
import { usePublicClient } from "wagmi";
import { indexerClient } from "../../protocol/indexer/client.ts";
import type { ListSource } from "../lib/list-reads.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Where lists come from: the indexer when the runtime config names one (else undefined `indexer`), and the chain. */
export function useListSource(): ListSource | undefined {
  const config = useEdgepay();
  const client = usePublicClient();
  const indexer = useMemo(() => (config.indexerUrl ? indexerClient(config.indexerUrl, { timeoutMs: 5_000 }) : undefined), [config.indexerUrl]);
  return useMemo(() => (client ? { client, config, ...(indexer ? { indexer } : {}) } : undefined), [client, config, indexer]);
}
