"use client";
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { WagmiProvider, useBlockNumber } from "wagmi";
import { EdgepayContext } from "../hooks/useEdgepay.ts";
import { useIndexStatus } from "../hooks/useIndexStatus.ts";
import { runtimeConfigWire, type RuntimeConfig } from "../lib/runtime-config.ts";
import { makeWagmiConfig } from "../wagmi.ts";

type State = { status: "loading" } | { status: "error"; message: string } | { status: "ready"; config: RuntimeConfig };

export function Providers({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: "loading" });
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { staleTime: 2_000, retry: 1 } } }));

  useEffect(() => {
    let cancelled = false;
    fetch("/api/config", { cache: "no-store" })
      .then(async (res) => {
        const body: unknown = await res.json();
        if (!res.ok) {
          const message = (body as { error?: { message?: string } }).error?.message ?? `HTTP ${res.status}`;
          throw new Error(message);
        }
        return runtimeConfigWire.parse(body);
      })
      .then((config) => !cancelled && setState({ status: "ready", config }))
      .catch((e: unknown) => !cancelled && setState({ status: "error", message: e instanceof Error ? e.message : String(e) }));
    return () => {
      cancelled = true;
    };
  }, []);

  const wagmiConfig = useMemo(() => (state.status === "ready" ? makeWagmiConfig(state.config) : undefined), [state]);

  if (state.status === "loading") return <p className="muted pad">Loading configuration…</p>;
  if (state.status === "error" || !wagmiConfig)
    return (
      <p className="error pad" role="alert">
        The dashboard could not load its configuration: {state.status === "error" ? state.message : "unknown"}
      </p>
    );
  return (
    <EdgepayContext.Provider value={state.config}>
      <WagmiProvider config={wagmiConfig} reconnectOnMount>
        <QueryClientProvider client={queryClient}>
          <RefreshOnNewBlocks />
          <RefreshOnIndexProgress />
          {children}
        </QueryClientProvider>
      </WagmiProvider>
    </EdgepayContext.Provider>
  );
}

/** Every new block invalidates the chain reads, so balances and lists follow the chain without a reload. */
function RefreshOnNewBlocks() {
  const queryClient = useQueryClient();
  const { data: block } = useBlockNumber({ watch: true });
  useEffect(() => {
    if (block === undefined) return;
    // Worker answers (health, offerings, channel views) poll on their own clocks: they do not follow blocks.
    void queryClient.invalidateQueries({ predicate: (q) => !["blockNumber", "workerHealth", "workerOfferings"].includes(String(q.queryKey[0])) });
  }, [block, queryClient]);
  return null;
}

/**
 * The index lags the chain: a list read on a new block may come before the indexer has that block. Each time the
 * indexer's block advances (or it comes back / goes away), the lists are read again.
 */
function RefreshOnIndexProgress() {
  const queryClient = useQueryClient();
  const status = useIndexStatus();
  const mark = status.kind === "indexed" ? `indexed:${status.indexedBlock ?? "none"}` : status.kind;
  useEffect(() => {
    if (mark === "none" || mark === "loading") return;
    void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] === "edgepay" });
  }, [mark, queryClient]);
  return null;
}
