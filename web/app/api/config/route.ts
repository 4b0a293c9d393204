import { readServerConfig } from "../../../lib/server-config.ts";

// Read per request: the same build serves whatever chain the environment names.
export const dynamic = "force-dynamic";

export function GET() {
  try {
    const config = readServerConfig();
    return Response.json(config, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return Response.json({ error: { code: "bad_config", message } }, { status: 500 });
  }
}
