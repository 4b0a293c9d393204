// Audit command:
//   npm run audit -- export --worker URL --device 0x.. [--channel 0x..] [--from ISO] [--to ISO] > file.jsonl
//   npm run audit -- verify file.jsonl [--rpc URL] [--flight-recorder 0x..] [--indexer URL] [--json]
// `export` pages through the worker's GET /v1/receipts (hashes only) and writes one receipt per line with its proof.
// `verify` checks every line offline against the chain: signature, inclusion proof against the on-chain anchor,
// model hash against the ModelRegistry, hash-chain links; each receipt is proven, missing or contradicted.
// The export ends with a coverage line (device, filter, count): without a filter it claims every receipt of the
// device, and `verify` reports each anchored sequence it lacks as absent; a channel's export is checked for holes by
// its amounts; a file without a coverage line is taken to claim everything (a deleted line is never passed over).
// Exit code: 0 all proven and nothing absent, 1 some missing or absent, 2 some contradicted, 64 usage,
// 65 unreadable input, 70 other failure.
// With an indexer (--indexer or EDGEPAY_INDEXER_URL), anchors' transactions and channels' prices come from it; without
// one, or for what it does not hold yet, or when it does not answer, from paged scans of the chain's logs.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createPublicClient, http, isAddress, type Address } from "viem";
import { coverageLineWire, isCoverageLine, type CoverageLineWire, type ExportCoverage } from "../audit-coverage.ts";
import { auditLineWire, receiptPageWire, type AuditLine, type AuditLineWire } from "../audit-export.ts";
import { auditContext, auditExport, type DeviceCoverage } from "../client/audit.ts";
import { deployments } from "../generated/contracts.ts";
import { indexerClient } from "../indexer/client.ts";

class UsageError extends Error {}

const USAGE = `usage:
  npm run audit -- export --worker URL --device 0x<address> [--channel 0x<channel id>] [--from ISO] [--to ISO] > file.jsonl
  npm run audit -- verify file.jsonl [--rpc URL] [--flight-recorder 0x<address>] [--indexer URL] [--json]
environment: EDGEPAY_RPC_URL, EDGEPAY_FLIGHT_RECORDER, EDGEPAY_INDEXER_URL (the indexer, e.g. http://127.0.0.1:42069)`;

async function exportReceipts(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: { worker: { type: "string" }, device: { type: "string" }, channel: { type: "string" }, from: { type: "string" }, to: { type: "string" } } });
  if (!values.worker) throw new UsageError("export needs --worker URL");
  if (!values.device || !isAddress(values.device)) throw new UsageError(`export needs --device 0x<40 hex>, got ${values.device ?? "nothing"}`);
  for (const k of ["from", "to"] as const) {
    const v = values[k];
    if (v !== undefined && Number.isNaN(Date.parse(v))) throw new UsageError(`--${k} must be an ISO 8601 date, got ${v}`);
  }
  let after = "0";
  let count = 0;
  let scope: { chainId: number; paymentChannels: string } | undefined;
  for (;;) {
    const q = new URLSearchParams({ after, limit: "1000" });
    if (values.channel) q.set("channel", values.channel);
    if (values.from) q.set("from", String(Math.floor(Date.parse(values.from) / 1000)));
    if (values.to) q.set("to", String(Math.floor(Date.parse(values.to) / 1000)));
    const url = `${values.worker.replace(/\/$/, "")}/v1/receipts?${q}`;
    const res = await fetch(url).catch((e: unknown) => {
      throw new Error(`cannot reach the worker at ${values.worker}: ${(e as Error).message}`);
    });
    const json = (await res.json().catch(() => undefined)) as { error?: { message: string } } | undefined;
    if (!res.ok) throw new Error(`worker answered ${res.status}: ${json?.error?.message ?? "no JSON body"}`);
    const page = receiptPageWire.safeParse(json);
    if (!page.success) throw new Error(`worker's receipt page is malformed: ${page.error.issues[0]!.message}`);
    if (page.data.device.toLowerCase() !== values.device.toLowerCase()) {
      throw new Error(`the worker at ${values.worker} is device ${page.data.device}, not ${values.device}`);
    }
    scope = { chainId: page.data.chainId, paymentChannels: page.data.paymentChannels };
    for (const line of (json as { receipts: AuditLineWire[] }).receipts) process.stdout.write(`${JSON.stringify(line)}\n`);
    count += page.data.receipts.length;
    if (!page.data.next) break;
    after = page.data.next;
  }
  // The coverage line says what the export claims to hold, so that a deleted or truncated line shows.
  const coverage: CoverageLineWire = {
    coverage: {
      device: values.device,
      chainId: scope!.chainId,
      paymentChannels: scope!.paymentChannels,
      ...(values.channel ? { channel: values.channel } : {}),
      ...(values.from ? { from: Math.floor(Date.parse(values.from) / 1000) } : {}),
      ...(values.to ? { to: Math.floor(Date.parse(values.to) / 1000) } : {}),
      receipts: count,
    },
  };
  process.stdout.write(`${JSON.stringify(coverage)}\n`);
  process.stderr.write(`exported ${count} receipt(s) of device ${values.device}${values.channel || values.from || values.to ? " (filtered)" : ""}\n`);
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { rpc: { type: "string" }, "flight-recorder": { type: "string" }, indexer: { type: "string" }, json: { type: "boolean" } },
  });
  const file = positionals[0];
  if (!file) throw new UsageError("verify needs the export file");
  const rpc = values.rpc ?? process.env.EDGEPAY_RPC_URL ?? "http://127.0.0.1:8545";
  const recorder = values["flight-recorder"] ?? process.env.EDGEPAY_FLIGHT_RECORDER ?? deployments.find((d) => d.deploymentId === "local")?.flightRecorder;
  if (!recorder || !isAddress(recorder)) throw new UsageError(`verify needs --flight-recorder 0x<40 hex> (got ${recorder ?? "nothing"})`);

  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    process.stderr.write(`cannot read ${file}: ${(error as Error).message}\n`);
    return 65;
  }
  const lines: AuditLine[] = [];
  const coverage: ExportCoverage[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    if (!raw.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      process.stderr.write(`${file}:${i + 1}: not JSON: ${(error as Error).message}\n`);
      return 65;
    }
    if (isCoverageLine(json)) {
      const cov = coverageLineWire.safeParse(json);
      if (!cov.success) {
        const issue = cov.error.issues[0]!;
        process.stderr.write(`${file}:${i + 1}: not a coverage line: ${issue.path.join(".") || "(root)"}: ${issue.message}\n`);
        return 65;
      }
      coverage.push(cov.data.coverage);
      continue;
    }
    const parsed = auditLineWire.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      process.stderr.write(`${file}:${i + 1}: not a receipt line: ${issue.path.join(".") || "(root)"}: ${issue.message}\n`);
      return 65;
    }
    lines.push(parsed.data);
  }

  const client = createPublicClient({ transport: http(rpc, { retryCount: 1 }) });
  const ctx = await auditContext(client, recorder as Address).catch((e: unknown) => {
    throw new Error(`cannot read FlightRecorder ${recorder} at ${rpc}: ${(e as Error).message.split("\n")[0]}`);
  });
  const indexerUrl = values.indexer ?? process.env.EDGEPAY_INDEXER_URL?.trim();
  if (indexerUrl) {
    if (!/^https?:\/\/[^\s]+$/.test(indexerUrl)) throw new UsageError(`--indexer must be an http(s) URL (got ${indexerUrl})`);
    ctx.indexer = indexerClient(indexerUrl);
  }
  if (lines.length === 0 && coverage.length === 0) {
    process.stderr.write(`${file} holds no receipts and no coverage line: it proves nothing (make exports with \`npm run audit -- export\`)\n`);
    return 1;
  }
  for (const c of coverage) {
    if (c.chainId !== ctx.chainId || c.paymentChannels.toLowerCase() !== ctx.paymentChannels.toLowerCase()) {
      process.stderr.write(`${file}: the export is of chain ${c.chainId} / PaymentChannels ${c.paymentChannels}, but FlightRecorder ${recorder} at ${rpc} is on chain ${ctx.chainId} / ${ctx.paymentChannels}: pass the --rpc and --flight-recorder of the export's chain\n`);
      return 65;
    }
  }
  const { receipts, gaps, devices, summary } = await auditExport(lines, ctx, coverage);
  const truncated = devices.filter((d) => d.statedReceipts !== undefined && d.statedReceipts !== d.receipts);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ receipts, gaps, devices, summary }, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
  } else {
    for (const a of receipts) {
      const failed = Object.entries(a.checks)
        .filter(([, c]) => c && !c.valid)
        .map(([name, c]) => {
          const f = c as { reason: string; detail?: string };
          return `${name}: ${f.reason}${f.detail ? ` - ${f.detail}` : ""}`;
        });
      const where = a.anchor ? ` anchor ${a.anchor.fromSeq}..${a.anchor.toSeq}${a.anchor.transactionHash ? ` tx ${a.anchor.transactionHash}` : ""}` : "";
      const model = a.model ? ` model ${a.model.modelId} "${a.model.name}"` : "";
      process.stdout.write(`${a.device} #${a.sequence} ${a.status.padEnd(12)}${failed.length ? ` (${failed.join(", ")})` : ""}${where}${model}\n`);
    }
    for (const g of gaps) {
      const range = g.fromSeq === g.toSeq ? `#${g.fromSeq}` : `#${g.fromSeq}..#${g.toSeq}`;
      process.stdout.write(`${g.device} ${range} ${g.reason}${g.anchor ? ` (anchor ${g.anchor.fromSeq}..${g.anchor.toSeq})` : ""}: ${g.detail}\n`);
    }
    for (const d of devices) process.stdout.write(`${coverageSentence(d)}\n`);
    for (const d of truncated) process.stdout.write(`${d.device}: the export's coverage line states ${d.statedReceipts} receipt(s), the file holds ${d.receipts}: lines were removed or added\n`);
    process.stdout.write(
      `${receipts.length} receipt(s): ${summary.proven} proven, ${summary.missing} missing, ${summary.contradicted} contradicted; ${summary.absent} anchored receipt(s) absent from the export\n`,
    );
  }
  if (summary.contradicted > 0) return 2;
  return summary.missing > 0 || summary.absent > 0n || truncated.length > 0 ? 1 : 0;
}

function coverageSentence(d: DeviceCoverage): string {
  const anchored = d.anchoredSeq === 0n ? "has anchored nothing yet" : `has anchored #1..#${d.anchoredSeq}`;
  if (d.kind === "filtered") {
    const f = d.filter ?? {};
    const parts = [f.channel ? `channel ${f.channel}` : "", f.from !== undefined ? `from ${new Date(f.from * 1000).toISOString()}` : "", f.to !== undefined ? `to ${new Date(f.to * 1000).toISOString()}` : ""].filter(Boolean);
    const holes = f.channel ? "; the channel's amounts were checked for holes" : "; receipts outside the filter are not checked";
    return `${d.device} ${anchored}; this export is filtered (${parts.join(", ")}): ${d.receipts} receipt(s), ${d.notCovered ?? 0n} anchored receipt(s) outside it${holes}`;
  }
  const claim = d.kind === "complete" ? "claims all of its receipts" : "has no coverage line and is taken to claim all of its receipts";
  return `${d.device} ${anchored}; this export ${claim}: ${d.receipts} receipt(s)`;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === "export") {
      await exportReceipts(rest);
      return 0;
    }
    if (command === "verify") return await verify(rest);
    throw new UsageError(command ? `unknown command "${command}"` : "no command");
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
      return 64;
    }
    process.stderr.write(`audit: ${(error as Error).message}\n`);
    return 70;
  }
}

process.exitCode = await main();
