/**
 * AI banners: one image from OpenAI's Images API (model OPENAI_IMAGE_MODEL), stored as the
 * organisation's PNG file and answered with a signed link. Priced per image by the price map
 * (`model@size` where a size costs more); a content-policy refusal is a 422 with OpenAI's reason
 * and costs nothing, since the hold is released when no image was made.
 */
import { aiContents } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, ProviderUnavailable, ServiceUnavailable, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { ProviderError } from "../../../providers/errors";
import { openai } from "../../../providers/openai";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { withCreditMeter } from "../../money/credits/meter";
import { creditsFor, lookupPrice } from "../../money/credits/prices";
import { createFileLink, storeGeneratedFile } from "../files/service";
import { providerProblem } from "./metered-chat";
import type { BannerView } from "./schemas";

export const BANNER_FEATURE = "ai.banner";

/** What each model family takes: sizes (the first is the default) and API styles (null: no style parameter). */
const IMAGE_FAMILIES = {
  "dall-e-3": { sizes: ["1024x1024", "1792x1024", "1024x1792"], styles: ["vivid", "natural"], quality: "standard" },
  "dall-e-2": { sizes: ["1024x1024", "512x512", "256x256"], styles: null, quality: undefined },
  "gpt-image-1": { sizes: ["1024x1024", "1536x1024", "1024x1536"], styles: null, quality: "medium" },
} as const;
type ImageFamily = keyof typeof IMAGE_FAMILIES;

/** The family of an image model (`dall-e-3`, or a dated or suffixed name of one), or null when Billx does not know it. */
export function imageFamily(model: string): ImageFamily | null {
  const names = Object.keys(IMAGE_FAMILIES) as ImageFamily[];
  return names.find((name) => model === name || model.startsWith(`${name}-`)) ?? null;
}

export interface BannerInput {
  prompt: string;
  size?: string;
  style?: string;
  headline?: string;
}

class ContentPolicyRefusal extends AppError {
  constructor(reason: string) {
    super(
      422,
      "https://billx.dev/problems/content-policy",
      "Refused by the provider's content policy",
      reason,
      [{ path: "prompt", message: reason }],
      undefined,
      {
        provider: "openai",
        provider_code: "content_policy_violation",
      },
    );
  }
}

function checkOptions(family: ImageFamily, model: string, input: BannerInput): { size: string; style: string | null } {
  const rules = IMAGE_FAMILIES[family];
  const size = input.size ?? rules.sizes[0];
  const errors = [];
  if (!(rules.sizes as readonly string[]).includes(size)) errors.push({ path: "size", message: `${model} draws ${rules.sizes.join(", ")}` });
  const styles = rules.styles as readonly string[] | null;
  if (input.style !== undefined && (styles === null || !styles.includes(input.style))) {
    errors.push({ path: "style", message: styles ? `${model} takes style ${styles.join(" or ")}` : `${model} takes no style` });
  }
  if (errors.length > 0) throw new Unprocessable(errors);
  return { size, style: input.style ?? styles?.[0] ?? null };
}

function bannerPrompt(input: BannerInput): string {
  const headline = input.headline ? ` Show this headline in large, clearly legible lettering, spelled exactly: "${input.headline}".` : " No text in the image.";
  return `A marketing banner for a shop: ${input.prompt}.${headline}`;
}

/** Draws a banner, stores it as a PNG file of the organisation, charges it per image and keeps it in the history. */
export async function createBanner(ctx: ServiceCtx, input: BannerInput): Promise<BannerView> {
  assertCan(ctx, "ai:use");
  const orgId = requireOrgId(ctx);
  const model = ctx.config.ai.imageModel;
  const family = imageFamily(model);
  if (!family) throw new ServiceUnavailable(`OPENAI_IMAGE_MODEL is ${model}; banners are drawn with dall-e-3, dall-e-2 or gpt-image-1`);
  const { size, style } = checkOptions(family, model, input);
  if (!ctx.config.openai.apiKey) throw new ProviderUnavailable("OPENAI_API_KEY");
  const priceKey = lookupPrice("openai", `${family}@${size}`).source === "exact" ? `${family}@${size}` : family;
  const estimate = creditsFor(lookupPrice("openai", priceKey).price, { images: 1 });
  const id = newId("aic");
  const metered = await withCreditMeter(ctx, { orgId, feature: BANNER_FEATURE, estimate }, async (meter) => {
    let image: Awaited<ReturnType<ReturnType<typeof openai>["generateImage"]>>;
    try {
      image = await openai(ctx.config).generateImage({
        model,
        prompt: bannerPrompt(input),
        size,
        style: style ?? undefined,
        quality: IMAGE_FAMILIES[family].quality,
      });
    } catch (error) {
      if (error instanceof ProviderError && error.code === "content_policy_violation")
        throw new ContentPolicyRefusal(error.message.replace(/^openai: (\d{3} )?/, ""));
      throw providerProblem(error);
    }
    // The image exists: from here it is charged, whether or not it can be stored.
    meter.add("openai", priceKey, { images: 1 });
    const file = await storeGeneratedFile(ctx, { bytes: image.bytes, filename: `banner-${id.slice(4).toLowerCase()}.png`, contentType: "image/png" });
    return { file, revisedPrompt: image.revisedPrompt };
  });
  const { file, revisedPrompt } = metered.value;
  await ctx.db.insert(aiContents).values({
    id,
    orgId,
    kind: "banner",
    style: style ?? "default",
    prompt: input.prompt,
    text: input.headline ?? null,
    fileId: file.id,
    model,
    credits: metered.credits,
    createdBy: ctx.actor?.userId ?? null,
    createdAt: ctx.now(),
  });
  const link = await createFileLink(ctx, file.id);
  return {
    id,
    file_id: file.id,
    url: link.url,
    expires_at: link.expires_at,
    file,
    model,
    size,
    style,
    revised_prompt: revisedPrompt,
    credits_charged: metered.credits,
    balance: metered.balance,
  };
}
