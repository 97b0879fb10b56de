import type { ServiceCtx } from "../../../lib/context";
import { systemActor } from "../../identity/auth/principal";
import { formatMoney, formatQuantity } from "../../retail/bills/format";
import { listProducts } from "../../retail/products/service";

/** What the bot may say about a product: read from the organisation's products, never from a model. */
export interface ProductFact {
  product_id: string;
  name: string;
  sku: string | null;
  unit: string;
  price: number;
  currency: string;
  stock_quantity: string;
  in_stock: boolean;
}

const MAX_TERMS = 6;
const MAX_FACTS = 5;
// Words that match half a catalogue and say nothing about which product is meant.
const STOP_WORDS = new Set(
  "the and for you your have has how much many what which with this that does are any can get buy want price cost stock there here some please about need".split(
    " ",
  ),
);

/** The words of `query` worth looking up: letters and digits, three or more, the first few distinct ones. */
export function searchTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}-]{3,}/gu) ?? [];
  return [...new Set(words.filter((w) => !STOP_WORDS.has(w)))].slice(0, MAX_TERMS);
}

/**
 * Products of `orgId` that match `query`, best first: each term is looked up through the products
 * service (name, SKU or barcode), and a product matching more terms ranks higher. Runs with its
 * own read-only actor, so a staff key scoped to the chatbot still gets the facts its bot quotes.
 */
export async function findProductFacts(ctx: ServiceCtx, orgId: string, query: string): Promise<ProductFact[]> {
  const reader: ServiceCtx = { ...ctx, actor: systemActor(orgId, ["products:read"]) };
  const terms = searchTerms(query);
  const pages = await Promise.all(terms.map((q) => listProducts(reader, { q, limit: 20 })));
  const scored = new Map<string, { fact: ProductFact; score: number }>();
  for (const page of pages) {
    for (const p of page.data) {
      const entry = scored.get(p.id) ?? {
        fact: {
          product_id: p.id,
          name: p.name,
          sku: p.sku,
          unit: p.unit,
          price: p.price,
          currency: p.currency,
          stock_quantity: p.stock_quantity,
          in_stock: Number(p.stock_quantity) > 0,
        },
        score: 0,
      };
      entry.score++;
      scored.set(p.id, entry);
    }
  }
  return [...scored.values()]
    .sort((a, b) => b.score - a.score || a.fact.name.localeCompare(b.fact.name))
    .slice(0, MAX_FACTS)
    .map((e) => e.fact);
}

/** One line per product, for a model's instructions; says plainly when nothing matched. */
export function productFactsText(query: string, facts: ProductFact[]): string {
  if (facts.length === 0) return `No product in the catalogue matches "${query}". Say so; do not guess a price or stock.`;
  return facts
    .map((f) => {
      const stock = f.in_stock ? `${formatQuantity(f.stock_quantity)} ${f.unit} in stock` : "out of stock";
      return `- ${f.name}${f.sku ? ` (SKU ${f.sku})` : ""}: ${formatMoney(f.price, f.currency, "code")} per ${f.unit}; ${stock}`;
    })
    .join("\n");
}

/** The plain answer when no product matched: no model is asked, so nothing can be invented. */
export function noProductAnswer(query: string): string {
  return `I could not find a product matching "${query}" in our catalogue.`;
}
