// Inference bodies in either encoding: JSON (`application/json`) or the binary tensor frame
// (`application/vnd.edgepay.tensors`, protocol/tensor-binary.ts), chosen by the request's Content-Type; answers in
// the frame when Accept names it, else JSON. Both encodings decode to the same tensors, then the same validation
// and metering, so hashes, units and receipts do not depend on the encoding. Errors are always JSON.
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeTensorFrame, encodeTensorFrame, RESERVED_TENSOR_NAMES, TENSORS_MEDIA_TYPE, TensorFrameError } from "@edgepay/protocol/tensor-binary";
import { TensorError, tensorFromWire, tensorToWire, type Tensor } from "@edgepay/protocol/tensors";
import { inferRequestWire, type InferResponseWire } from "@edgepay/protocol/wire";
import { meter } from "../metering.ts";
import type { ServedModel } from "./app.ts";
import { HttpError, sendJson } from "./io.ts";

export type BodyEncoding = "json" | "binary";

const JSON_TYPE = /^application\/(.+\+)?json\s*(;|$)/i;
const BINARY_TYPE = new RegExp(`^${TENSORS_MEDIA_TYPE.replace(/\./g, "\\.")}\\s*(;|$)`, "i");

/** The request's encoding from its Content-Type (415 unsupported_media_type for anything else, or none). */
export function requestEncoding(req: IncomingMessage): BodyEncoding {
  const type = req.headers["content-type"];
  if (type !== undefined && BINARY_TYPE.test(type)) return "binary";
  if (type !== undefined && JSON_TYPE.test(type)) return "json";
  throw new HttpError("unsupported_media_type", `content-type must be application/json or ${TENSORS_MEDIA_TYPE}, not ${type === undefined ? "missing" : type}`);
}

/** Whether the client asked for the binary frame (Accept names it with a non-zero q); JSON otherwise. */
export function wantsBinary(req: IncomingMessage): boolean {
  const accept = req.headers.accept?.toLowerCase();
  if (!accept || !accept.includes(TENSORS_MEDIA_TYPE)) return false;
  return accept.split(",").some((part) => {
    const [type, ...params] = part.split(";").map((s) => s.trim());
    if (type !== TENSORS_MEDIA_TYPE) return false;
    const q = params.find((p) => /^q\s*=/i.test(p));
    return q === undefined || Number(q.split("=")[1]) > 0;
  });
}

/**
 * Body bytes -> validated input tensors and their units of work (400 invalid_json / bad_request / reserved_name /
 * invalid_tensor, 413 too_many_units), before any inference.
 */
export function parseInputs(body: Buffer, encoding: BodyEncoding, model: ServedModel): { tensors: Record<string, Tensor>; units: number } {
  const tensors = encoding === "binary" ? fromFrame(body) : fromJson(body);
  let units: number;
  try {
    model.runtime.validate(tensors);
    units = meter(model.unit, tensors);
  } catch (error) {
    if (error instanceof TensorError) throw new HttpError("invalid_tensor", error.message, { tensor: error.tensor });
    throw error;
  }
  return { tensors, units };
}

function fromFrame(body: Buffer): Record<string, Tensor> {
  try {
    return decodeTensorFrame(body, { allowMeta: false }).tensors;
  } catch (error) {
    if (error instanceof TensorFrameError) throw new HttpError(error.code, error.message, error.tensor === undefined ? undefined : { tensor: error.tensor });
    throw error;
  }
}

function fromJson(body: Buffer): Record<string, Tensor> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError("invalid_json", `body is not valid JSON: ${(error as Error).message}`);
  }
  const inputs = typeof json === "object" && json !== null ? (json as { inputs?: unknown }).inputs : undefined;
  if (typeof inputs === "object" && inputs !== null) {
    for (const name of Object.keys(inputs)) {
      if (RESERVED_TENSOR_NAMES.has(name)) throw new HttpError("reserved_name", `an input may not be named "${name}"`, { tensor: name });
    }
  }
  const parsed = inferRequestWire.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path;
    if (path[0] === "inputs" && typeof path[1] === "string") {
      throw new HttpError("invalid_tensor", `tensor "${path[1]}": ${path.slice(2).join(".") || "value"}: ${issue.message}`, { tensor: path[1] });
    }
    throw new HttpError("bad_request", `body ${path.join(".") || "(root)"}: ${issue.message}; expected {"inputs": {"<name>": {"type", "dims", "data"}}}`);
  }
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, wire] of Object.entries(parsed.data.inputs)) tensors[name] = tensorFromWire(name, wire);
  } catch (error) {
    if (error instanceof TensorError) throw new HttpError("invalid_tensor", error.message, { tensor: error.tensor });
    throw error;
  }
  return tensors;
}

/**
 * A 200 inference answer: `meta` (everything but the outputs) with the outputs, as the frame when the client asked
 * for it, else as JSON `{ outputs, ...meta }`. `outputs` may be tensors or their JSON form (a stored answer).
 */
export function sendOutputs(
  req: IncomingMessage,
  res: ServerResponse,
  outputs: Record<string, Tensor> | InferResponseWire["outputs"],
  meta: Record<string, unknown>,
  /** The outputs' JSON form when the caller made it already. */
  wire?: InferResponseWire["outputs"],
) {
  if (wantsBinary(req)) {
    const tensors: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(outputs)) tensors[name] = isWire(t) ? tensorFromWire(name, t) : t;
    const frame = encodeTensorFrame(tensors, meta);
    res.writeHead(200, { "content-type": TENSORS_MEDIA_TYPE, "content-length": frame.byteLength, "cache-control": "no-store", vary: "accept" });
    res.end(frame);
    return;
  }
  if (!wire) {
    wire = {};
    for (const [name, t] of Object.entries(outputs)) wire[name] = isWire(t) ? t : tensorToWire(t);
  }
  sendJson(res, 200, { outputs: wire, ...meta }, { vary: "accept" });
}

function isWire(t: Tensor | InferResponseWire["outputs"][string]): t is InferResponseWire["outputs"][string] {
  return Array.isArray(t.data);
}
