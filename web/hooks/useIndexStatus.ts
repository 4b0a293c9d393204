"use client";
import { useQuery } from "@tanstack/react-query";
import { useBlockNumber } from "wagmi";
import { indexLag, type IndexLag } from "../../protocol/indexer/client.ts";
import { useListSource } from "./useListSource.ts";

export type IndexState = { kind: "none" } | { kind: "unreachable"; message: string } | ({ kind: "indexed" } & IndexLag) | { kind: "loading" };

/** The indexer's latest indexed block against the chain head read live (undefined state when no indexer is configured). */
export function useIndexStatus(): IndexState {
  const src = useListSource();
  const { data: head } = useBlockNumber({ watch: true });
  const status = useQuery({
    queryKey: ["indexStatus", src?.indexer?.url ?? null],
    queryFn: () => src!.indexer!.status(),
    enabled: !!src?.indexer,
    refetchInterval: 2_000,
    retry: false,
  });
  if (!src?.indexer) return { kind: "none" };
  if (status.error) return { kind: "unreachable", message: status.error.message };
  if (!status.data || head === undefined) return { kind: "loading" };
  return { kind: "indexed", ...indexLag(status.data, head) };
}
