/**
 * OpenAI's Images API for the OpenAI fake: `POST /v1/images/generations` answering a real PNG of
 * the requested size as `b64_json`, with the rules of each model family as OpenAI applies them
 * (dall-e-3: n=1, its three sizes, `style` vivid|natural, `response_format` url|b64_json;
 * gpt-image-1: its sizes, always b64_json, and no `response_format` or `style` parameter) and a
 * content-policy refusal (400 `content_policy_violation`) for a prompt containing REFUSED_PROMPT_WORD.
 */
import type { ServerResponse } from "node:http";
import { deflateSync } from "node:zlib";
import { type FakeRequest, type FakeState, recordDelayAndMaybeFail, sendJson } from "./kit.ts";

/** A prompt with this word is refused by the fake's "safety system". */
export const REFUSED_PROMPT_WORD = "forbidden-content";

const FAMILIES = {
  "dall-e-3": { sizes: ["1024x1024", "1792x1024", "1024x1792"], styles: ["vivid", "natural"], responseFormat: true },
  "dall-e-2": { sizes: ["256x256", "512x512", "1024x1024"], styles: null, responseFormat: true },
  "gpt-image-1": { sizes: ["1024x1024", "1536x1024", "1024x1536", "auto"], styles: null, responseFormat: false },
} as const;

interface ImageRequest {
  model?: unknown;
  prompt?: unknown;
  n?: unknown;
  size?: unknown;
  style?: unknown;
  quality?: unknown;
  response_format?: unknown;
}

function crc32(data: Buffer): number {
  let crc = ~0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** A valid greyscale PNG of `width` × `height` with a diagonal band, deflated for real. */
export function fakePng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = (x + y) % 256;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

function family(model: string): keyof typeof FAMILIES | null {
  const names = Object.keys(FAMILIES) as (keyof typeof FAMILIES)[];
  return names.find((name) => model === name || model.startsWith(`${name}-`)) ?? null;
}

export async function imageGenerations(req: FakeRequest, res: ServerResponse, state: FakeState<unknown>): Promise<void> {
  const body = (req.body && typeof req.body === "object" ? req.body : {}) as ImageRequest;
  const model = typeof body.model === "string" ? body.model : "dall-e-2";
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) {
    return sendJson(res, 401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
  }
  if (await recordDelayAndMaybeFail(req, res, state, model)) return;
  const invalid = (message: string, param: string | null, code: string | null = null) =>
    sendJson(res, 400, { error: { message, type: "invalid_request_error", param, code } });
  const rules = family(model);
  if (!rules) return invalid(`The model '${model}' does not exist.`, "model", "model_not_found");
  const spec = FAMILIES[rules];
  if (typeof body.prompt !== "string" || body.prompt.length === 0) return invalid("Missing required parameter: 'prompt'.", "prompt");
  if (!spec.responseFormat && body.response_format !== undefined)
    return invalid("Unknown parameter: 'response_format'.", "response_format", "unknown_parameter");
  if (spec.styles === null && body.style !== undefined) return invalid("Unknown parameter: 'style'.", "style", "unknown_parameter");
  const size = typeof body.size === "string" ? body.size : "1024x1024";
  if (!(spec.sizes as readonly string[]).includes(size))
    return invalid(`Invalid value: '${size}'. Supported values are: ${spec.sizes.map((s) => `'${s}'`).join(", ")}.`, "size", "invalid_value");
  if (spec.styles && body.style !== undefined && !(spec.styles as readonly string[]).includes(String(body.style)))
    return invalid(`Invalid value: '${String(body.style)}'.`, "style", "invalid_value");
  if (rules === "dall-e-3" && body.n !== undefined && body.n !== 1) return invalid("Invalid 'n': dall-e-3 only supports n=1.", "n");
  if (body.prompt.toLowerCase().includes(REFUSED_PROMPT_WORD)) {
    return invalid(
      "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
      null,
      "content_policy_violation",
    );
  }
  const [width, height] = (size === "auto" ? "1024x1024" : size).split("x").map(Number) as [number, number];
  const b64 = fakePng(width, height).toString("base64");
  const created = Math.floor(Date.now() / 1000);
  if (rules === "gpt-image-1") {
    return sendJson(res, 200, { created, data: [{ b64_json: b64 }], usage: { input_tokens: 20, output_tokens: 1056, total_tokens: 1076 } });
  }
  if (body.response_format === "b64_json") {
    return sendJson(res, 200, { created, data: [{ b64_json: b64, ...(rules === "dall-e-3" ? { revised_prompt: `A banner: ${body.prompt}` } : {}) }] });
  }
  return sendJson(res, 200, { created, data: [{ url: `https://oaidalleapiprodscus.blob.core.windows.net/fake/${created}.png` }] });
}
