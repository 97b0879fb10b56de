// Copies Swagger UI's browser files from the swagger-ui-dist package into the Worker's static
// assets, so /docs needs no CDN. Runs on `npm install` (the `prepare` script).
import { copyFile, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
let source;
try {
  source = path.dirname(require.resolve("swagger-ui-dist/package.json"));
} catch {
  console.warn("swagger-ui-dist is not installed (production install?): /docs will have no UI assets");
  process.exit(0);
}
const target = path.resolve(import.meta.dirname, "../public/docs/vendor");
await mkdir(target, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) await copyFile(path.join(source, file), path.join(target, file));
