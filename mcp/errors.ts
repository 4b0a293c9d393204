// Tool failures as MCP results: `isError` with one readable line that starts with a stable snake_case code, and
// the same in structuredContent, so an agent can branch on the code and a person can read the message.
import { EdgepayClientError, describeContractError } from "../protocol/client/index.ts";
import { BudgetExceeded } from "./budget.ts";

export class ToolFailure extends Error {
  readonly code: string;
  readonly details: Record<string, string>;
  constructor(code: string, message: string, details: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export function failureResult(error: unknown): ToolResult {
  const { code, message, details } = classify(error);
  return { isError: true, content: [{ type: "text", text: `${code}: ${message}` }], structuredContent: { error: { code, message, ...details } } };
}

function classify(error: unknown): { code: string; message: string; details: Record<string, string> } {
  if (error instanceof BudgetExceeded) {
    return { code: error.code, message: error.message.replace(/^budget_exceeded: /, ""), details: { cap: error.cap, limit: String(error.limit), requested: String(error.requested), over: String(error.over) } };
  }
  if (error instanceof ToolFailure) return { code: error.code, message: error.message, details: error.details };
  if (error instanceof EdgepayClientError) {
    // The authorize hook's refusal travels through the buyer unchanged.
    return { code: error.code, message: error.message, details: error.workerCode ? { workerCode: error.workerCode } : {} };
  }
  const text = describeContractError(error);
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(text);
  return m ? { code: m[1]!, message: m[2]!, details: {} } : { code: "internal_error", message: text, details: {} };
}

/** JSON with bigints as decimal strings (the wire convention). */
export function jsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));
}

export function okResult(summary: string, data: Record<string, unknown>): ToolResult {
  const structured = jsonSafe(data) as Record<string, unknown>;
  return { content: [{ type: "text", text: `${summary}\n${JSON.stringify(structured)}` }], structuredContent: structured };
}
