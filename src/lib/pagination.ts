import { z } from "@hono/zod-openapi";

/** The largest page a client may ask for. */
export const MAX_PAGE_SIZE = 100;

/** One page of a list, the body of every list response. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** A validated `?limit=&cursor=`, as list services receive it. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/**
 * Cuts a `limit + 1` row fetch into a page; the extra row only says whether there is more.
 * The cursor is the id of the page's last row: ids are time-sortable, so the next page is
 * `id > cursor` (or `id < cursor` for a newest-first list) in the same order.
 */
export function toPage<T, R>(rows: R[], limit: number, idOf: (row: R) => string, view: (row: R) => T): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data: data.map(view), next_cursor: rows.length > limit && last ? idOf(last) : null };
}

/**
 * The `?limit=&cursor=` query of a list. Each list keeps its own default page size, and the
 * cursor example shows an id of the kind that list pages by.
 */
export function pageQuery(options: { defaultLimit: number; cursorExample: string }) {
  return z.object({
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE_SIZE)
      .default(options.defaultLimit)
      .openapi({ description: `Items per page, 1 to ${MAX_PAGE_SIZE}`, example: options.defaultLimit }),
    cursor: z.string().min(1).max(100).optional().openapi({ description: "`next_cursor` of the previous page", example: options.cursorExample }),
  });
}

/**
 * The `{data, next_cursor}` response of a list of `item`, registered in the OpenAPI document
 * as `name`. `data` says what the items are and in which order; `nextCursor` overrides the
 * cursor's description when "next" needs saying which way (e.g. older).
 */
export function pageSchema<Item extends z.ZodType>(item: Item, name: string, descriptions: { data: string; nextCursor?: string }) {
  return z
    .object({
      data: z.array(item).openapi({ description: descriptions.data, example: [] }),
      next_cursor: z
        .string()
        .nullable()
        .openapi({ description: descriptions.nextCursor ?? "Pass as `cursor` for the next page; null on the last page", example: null }),
    })
    .openapi(name);
}
