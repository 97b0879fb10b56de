import { Hono } from "hono";
import type { AppEnv } from "../../../lib/context";

/**
 * Swagger UI for `/openapi.json`. Its script and stylesheet are served from this Worker's static
 * assets (`public/docs/vendor`, copied from the `swagger-ui-dist` package on install), so the page
 * works offline and sends no traffic to a CDN.
 */
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Billx API</title>
<link rel="stylesheet" href="/docs/vendor/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/vendor/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>`;

// Kept in a file of its own so the Content-Security-Policy can forbid inline scripts.
const init = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });`;

export const docsRoutes = new Hono<AppEnv>()
  .get("/docs", (c) => c.html(page))
  .get("/docs/init.js", (c) => c.body(init, 200, { "Content-Type": "text/javascript; charset=utf-8" }))
  // Deployed, the assets layer answers these before the Worker runs; this serves them where it
  // does not (the test pool).
  .get("/docs/vendor/*", (c) => c.env.ASSETS.fetch(c.req.raw));
