// The index over HTTP: GraphQL at /graphql (plain fetch, what the tests use) and Ponder's SQL-over-HTTP at /sql/*
// (for @ponder/client). Ponder adds /health, /ready (historical sync done) and /status (indexed block per chain).
import { db } from "ponder:api";
import schema from "ponder:schema";
import { Hono } from "hono";
import { client, graphql } from "ponder";

const app = new Hono();
app.use("/sql/*", client({ db, schema }));
app.use("/graphql", graphql({ db, schema }));
app.use("/", graphql({ db, schema }));

export default app;
