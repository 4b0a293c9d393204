"use client";
import type { Address } from "viem";
import { readAnchorsPage, readChannelsPage, readClaimsPage } from "../lib/list-reads.ts";
import { usePaged } from "./usePaged.ts";

/** One device's channels, the claims on them and its FlightRecorder anchors, each a page at a time (newest first). */
export function useDeviceActivity(device: Address | undefined) {
  const enabled = !!device;
  const channels = usePaged(["deviceChannels", device ?? null], (src, page) => readChannelsPage(src, { devices: [device!] }, page), { enabled });
  const claims = usePaged(["deviceClaims", device ?? null], (src, page) => readClaimsPage(src, { devices: [device!] }, page), { enabled });
  const anchors = usePaged(["deviceAnchors", device ?? null], (src, page) => readAnchorsPage(src, device!, page), { enabled });
  return { channels, claims, anchors };
}
