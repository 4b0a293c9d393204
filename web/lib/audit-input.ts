// What a person pastes or uploads on the audit page: a bare signed receipt (protocol/receipt.ts wire format), or one
// line of an audit export / a proof answer ({ device, receipt[, anchor, proof] }, protocol/audit-export.ts).
// Parsing never throws: bad input comes back as a sentence naming the field at fault.
import type { Address } from "viem";
import type { z } from "zod";
import { auditLineWire, type AuditLine } from "../../protocol/audit-export.ts";
import { signedReceiptWire, type SignedReceipt } from "../../protocol/receipt.ts";

export type ParsedAuditInput =
  | { ok: true; receipt: SignedReceipt; /** Absent for a bare receipt: read from the channel's terms. */ device?: Address; line?: AuditLine }
  | { ok: false; message: string };

export function parseAuditInput(text: string): ParsedAuditInput {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) return { ok: false, message: "Nothing to check: paste or upload a receipt's JSON." };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // An export holds one JSON object per line: this page checks one receipt at a time.
    if (lines.length > 1 && lines.every(isJson)) {
      return { ok: false, message: `This is ${lines.length} JSON lines (an audit export): paste one line, one receipt, at a time (npm run audit -- verify checks a whole export).` };
    }
    return { ok: false, message: `Not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, message: `Expected a JSON object (a receipt, or { device, receipt, anchor, proof }), got ${Array.isArray(json) ? "an array" : typeof json === "object" ? "null" : `a ${typeof json}`}.` };
  }
  if ("receipt" in json) {
    const line = auditLineWire.safeParse(json);
    if (!line.success) return { ok: false, message: describe(line.error, json) };
    return { ok: true, receipt: line.data.receipt, device: line.data.device, line: line.data };
  }
  const bare = signedReceiptWire.safeParse(json);
  if (!bare.success) return { ok: false, message: describe(bare.error, json) };
  return { ok: true, receipt: bare.data };
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** The first problem, as "field: what is wrong". A union (with or without proof) reports its closest branch. */
function describe(error: z.ZodError, json: object): string {
  const withProof = "proof" in json || "anchor" in json;
  let issue = error.issues[0];
  if (issue?.code === "invalid_union") {
    const branches = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
    issue = (withProof ? branches[0] : branches[1])?.[0] ?? branches[0]?.[0] ?? issue;
  }
  if (!issue) return "The receipt is not in the expected format.";
  const where = issue.path.length ? issue.path.join(".") : "the object";
  const message = issue.code === "unrecognized_keys" ? `unexpected field(s) ${(issue as { keys?: string[] }).keys?.join(", ") ?? ""}` : issue.message;
  return `Not a receipt: ${where}: ${message}.`;
}
