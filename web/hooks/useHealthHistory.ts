"use client";
import { useEffect, useSyncExternalStore } from "react";
import { useWorkerHealth, type WorkerHealth } from "./useWorkerHealth.ts";

export interface HealthCheck extends WorkerHealth {
  at: number;
}

/** How many checks are kept per endpoint. */
export const HEALTH_HISTORY = 30;

// Kept in memory for the tab's life (per endpoint), so leaving the page and coming back keeps the history.
const history = new Map<string, HealthCheck[]>();
const listeners = new Set<() => void>();
const EMPTY: HealthCheck[] = [];

function record(endpoint: string, check: HealthCheck) {
  const list = history.get(endpoint) ?? [];
  if (list[0]?.at === check.at) return;
  history.set(endpoint, [check, ...list].slice(0, HEALTH_HISTORY));
  listeners.forEach((f) => f());
}

function subscribe(f: () => void) {
  listeners.add(f);
  return () => void listeners.delete(f);
}

/** The worker's health, polled every 10 s (`useWorkerHealth`), and its last HEALTH_HISTORY checks, newest first. */
export function useHealthHistory(endpoint: string | undefined) {
  const health = useWorkerHealth(endpoint);
  const { data, dataUpdatedAt } = health;
  useEffect(() => {
    if (endpoint && data && dataUpdatedAt) record(endpoint, { ...data, at: dataUpdatedAt });
  }, [endpoint, data, dataUpdatedAt]);
  const checks = useSyncExternalStore(
    subscribe,
    () => (endpoint ? (history.get(endpoint) ?? EMPTY) : EMPTY),
    () => EMPTY,
  );
  return { health, checks };
}
