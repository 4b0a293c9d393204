"use client";
import { useQuery } from "@tanstack/react-query";

export interface WorkerHealth {
  ok: boolean;
  status: number | "unreachable";
  latencyMs?: number;
  detail?: string;
}

/** Live GET {endpoint}/healthz from the browser, every 10 s. */
export function useWorkerHealth(endpoint: string | undefined) {
  return useQuery({
    queryKey: ["workerHealth", endpoint],
    enabled: !!endpoint,
    refetchInterval: 10_000,
    retry: false,
    queryFn: async (): Promise<WorkerHealth> => {
      const started = performance.now();
      try {
        const res = await fetch(`${endpoint!.replace(/\/$/, "")}/healthz`, { signal: AbortSignal.timeout(4_000), cache: "no-store" });
        const latencyMs = Math.round(performance.now() - started);
        const text = await res.text();
        let detail: string | undefined;
        try {
          const body = JSON.parse(text) as Record<string, unknown>;
          detail = typeof body.status === "string" ? body.status : undefined;
        } catch {
          detail = text.slice(0, 60) || undefined;
        }
        return { ok: res.ok, status: res.status, latencyMs, detail };
      } catch (error) {
        return { ok: false, status: "unreachable", detail: error instanceof Error ? error.message : String(error) };
      }
    },
  });
}
