"use client";
import { createContext, useContext } from "react";
import type { RuntimeConfig } from "../lib/runtime-config.ts";

export const EdgepayContext = createContext<RuntimeConfig | undefined>(undefined);

/** The runtime config (chain, contract addresses, workers) the dashboard was started with. */
export function useEdgepay(): RuntimeConfig {
  const config = useContext(EdgepayContext);
  if (!config) throw new Error("useEdgepay outside <Providers>");
  return config;
}
