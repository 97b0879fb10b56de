import { z } from "@hono/zod-openapi";
import { Cost, Usage } from "../chat/schemas";
import { typedText } from "../conversations/schemas";

export const ProductQueryBody = z
  .object({ query: typedText(1000, "A question about the shop's products", "How much are the arabica beans, and are they in stock?") })
  .openapi("SalesProductQueryRequest");

export const ProductFact = z
  .object({
    product_id: z.string().openapi({ description: "Product id", example: "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    name: z.string().openapi({ description: "Name", example: "Arabica beans 1kg" }),
    sku: z.string().nullable().openapi({ description: "SKU, or null", example: "COF-ARA-1K" }),
    unit: z.string().openapi({ description: "How it is counted", example: "piece" }),
    price: z.number().int().openapi({ description: "Price per unit in minor units of `currency`", example: 1850 }),
    currency: z.string().openapi({ description: "ISO 4217 currency", example: "USD" }),
    stock_quantity: z.string().openapi({ description: "Stock, 3 decimals", example: "12.000" }),
    in_stock: z.boolean().openapi({ description: "Whether any is in stock", example: true }),
  })
  .openapi("SalesProductFact");

export const ProductAnswer = z
  .object({
    answer: z
      .string()
      .openapi({ description: "The product agent's answer, from the facts below only", example: "The Arabica beans 1kg cost USD 18.50; 12 are in stock." }),
    products: z.array(ProductFact).openapi({ description: "The products the answer is based on, read from the products table, best match first" }),
    usage: Usage,
    cost: Cost,
  })
  .openapi("SalesProductAnswer");

export const KnowledgeSearchBody = z
  .object({
    query: typedText(1000, "A question for the business's knowledge base", "Do you deliver on Saturdays?"),
    assistant_id: z
      .string()
      .max(100)
      .regex(/^[\x21-\x7e]+$/, "Not an assistant id")
      .optional()
      .openapi({ description: "Whose knowledge base; the flow's knowledge_assistant_id when left out", example: "ast_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
  })
  .openapi("SalesKnowledgeSearchRequest");

export const KnowledgePassage = z
  .object({
    document_id: z.string().openapi({ description: "Document id", example: "doc_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    filename: z.string().openapi({ description: "The document's file name", example: "delivery.md" }),
    chunk_id: z.string().openapi({ description: "Passage id", example: "chk_01JD3X6W6X8Q3M1B0V4T2Y9ZKB" }),
    score: z.number().openapi({ description: "Relevance, higher is better", example: 0.82 }),
    snippet: z.string().openapi({ description: "The passage", example: "We deliver Monday to Saturday." }),
  })
  .openapi("SalesKnowledgePassage");

export const KnowledgeAnswer = z
  .object({
    answer: z.string().openapi({ description: "The knowledge agent's answer, from the passages only", example: "Yes, we deliver on Saturdays." }),
    assistant_id: z.string().openapi({ description: "Whose knowledge base was searched", example: "ast_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    passages: z.array(KnowledgePassage).openapi({ description: "The passages the answer is based on, best first" }),
    usage: Usage,
    cost: Cost,
  })
  .openapi("SalesKnowledgeAnswer");

export type ProductAnswerView = z.infer<typeof ProductAnswer>;
export type KnowledgeAnswerView = z.infer<typeof KnowledgeAnswer>;
export type KnowledgeSearchInput = z.infer<typeof KnowledgeSearchBody>;
