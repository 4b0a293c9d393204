// GET /v1/debug/timings (the per-phase breakdown of worker/perf/phase-timings.ts) and DELETE to zero it between
// benchmark windows. Only routed when the config turns `debug.timings` on; otherwise these paths are 404 like any other.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PhaseTimings } from "../perf/phase-timings.ts";
import { HttpError, sendJson } from "./io.ts";

export const DEBUG_TIMINGS_PATH = "/v1/debug/timings";

export function handleTimings(timings: PhaseTimings, req: IncomingMessage, res: ServerResponse) {
  if (req.method === "GET") {
    sendJson(res, 200, timings.snapshot());
  } else if (req.method === "DELETE") {
    timings.reset();
    res.writeHead(204);
    res.end();
  } else {
    throw new HttpError("method_not_allowed", `use GET or DELETE here, not ${req.method}`);
  }
}
