"use client";
import { useMutation } from "@tanstack/react-query";
import { runAudit, type AuditRequest } from "../lib/audit-run.ts";
import { useAuditContext } from "./useAuditContext.ts";
import { useEdgepay } from "./useEdgepay.ts";

/** Runs the checks of one receipt against the chain (and the device's worker for a proof it lacks). */
export function useReceiptAudit() {
  const config = useEdgepay();
  const context = useAuditContext();
  return useMutation({
    mutationFn: async (req: AuditRequest) => {
      if (!config.contracts.flightRecorder) throw new Error("This dashboard has no FlightRecorder address (set EDGEPAY_FLIGHT_RECORDER): receipts cannot be checked against anchors.");
      const ctx = context.data ?? (await context.refetch({ throwOnError: true })).data!;
      return runAudit(req, ctx, config.contracts.deviceRegistry);
    },
  });
}
