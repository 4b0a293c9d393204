"use client";
import { useEffect, useState } from "react";
import { useBlock } from "wagmi";

/**
 * The chain's idea of "now" in unix seconds: the latest block's timestamp plus the wall-clock time since that
 * block was seen (a local chain's clock may have been moved forward, so the browser's clock alone is wrong).
 */
export function useChainNow(): number | undefined {
  const { data: block } = useBlock({ watch: true });
  const [seenAt, setSeenAt] = useState(() => Date.now());
  const [tick, setTick] = useState(0);
  useEffect(() => setSeenAt(Date.now()), [block?.number]);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (!block) return undefined;
  void tick;
  return Number(block.timestamp) + Math.floor((Date.now() - seenAt) / 1000);
}
