"use client";
import { useEffect, useRef, useState } from "react";
import { useBlock } from "wagmi";

/**
 * The chain's idea of "now" in unix seconds, ticking every second: the latest block's timestamp plus the wall-clock
 * time since that block was seen (a local chain's clock may have been moved forward, so the browser's clock alone
 * is wrong for countdowns).
 */
export function useChainNow(): number | undefined {
  const { data: block } = useBlock({ watch: true });
  const anchor = useRef<{ ts: number; at: number } | undefined>(undefined);
  const [now, setNow] = useState<number>();
  useEffect(() => {
    if (!block) return;
    anchor.current = { ts: Number(block.timestamp), at: Date.now() };
    const update = () => {
      const a = anchor.current!;
      setNow(a.ts + Math.floor((Date.now() - a.at) / 1000));
    };
    const first = setTimeout(update, 0);
    const timer = setInterval(update, 1000);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  }, [block]);
  return now;
}
