import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import {
  AdjustStockBody,
  Category,
  CategoryIdParam,
  CategoryList,
  CategoryListQuery,
  CreateCategoryBody,
  CreateProductBody,
  Product,
  ProductIdParam,
  ProductList,
  ProductListQuery,
  StockAdjustment,
  StockMovementList,
  StockMovementListQuery,
  UpdateCategoryBody,
  UpdateProductBody,
} from "./schemas";
import {
  adjustStock,
  archiveProduct,
  createCategory,
  createProduct,
  deleteCategory,
  getProduct,
  listCategories,
  listProducts,
  listStockMovements,
  updateCategory,
  updateProduct,
} from "./service";

const tags = ["Products"];

const listCategoriesRoute = createRoute({
  method: "get",
  path: "/v1/products/categories",
  summary: "List product categories",
  tags,
  ...authed("products:read"),
  request: { query: CategoryListQuery },
  responses: { 200: jsonResponse(CategoryList, "A page of categories"), ...problemResponses },
});

const createCategoryRoute = createRoute({
  method: "post",
  path: "/v1/products/categories",
  summary: "Create a product category",
  tags,
  ...authed("products:write"),
  request: jsonBody(CreateCategoryBody),
  responses: { 201: jsonResponse(Category, "The new category"), ...problemResponses },
});

const updateCategoryRoute = createRoute({
  method: "patch",
  path: "/v1/products/categories/{id}",
  summary: "Rename or move a product category",
  tags,
  ...authed("products:write"),
  request: { params: CategoryIdParam, ...jsonBody(UpdateCategoryBody) },
  responses: { 200: jsonResponse(Category, "The category"), ...problemResponses },
});

const deleteCategoryRoute = createRoute({
  method: "delete",
  path: "/v1/products/categories/{id}",
  summary: "Delete a product category (its products keep existing, uncategorised)",
  tags,
  ...authed("products:write"),
  request: { params: CategoryIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

const listProductsRoute = createRoute({
  method: "get",
  path: "/v1/products",
  summary: "List or search products that are not archived",
  tags,
  ...authed("products:read"),
  request: { query: ProductListQuery },
  responses: { 200: jsonResponse(ProductList, "A page of products"), ...problemResponses },
});

const createProductRoute = createRoute({
  method: "post",
  path: "/v1/products",
  summary: "Create a product",
  tags,
  ...authed("products:write"),
  request: jsonBody(CreateProductBody),
  responses: { 201: jsonResponse(Product, "The new product"), ...problemResponses },
});

const getProductRoute = createRoute({
  method: "get",
  path: "/v1/products/{id}",
  summary: "One product, archived or not",
  tags,
  ...authed("products:read"),
  request: { params: ProductIdParam },
  responses: { 200: jsonResponse(Product, "The product"), ...problemResponses },
});

const updateProductRoute = createRoute({
  method: "patch",
  path: "/v1/products/{id}",
  summary: "Change a product's details (stock changes go through /stock)",
  tags,
  ...authed("products:write"),
  request: { params: ProductIdParam, ...jsonBody(UpdateProductBody) },
  responses: { 200: jsonResponse(Product, "The product"), ...problemResponses },
});

const archiveProductRoute = createRoute({
  method: "delete",
  path: "/v1/products/{id}",
  summary: "Archive a product: it leaves the list and stays readable",
  tags,
  ...authed("products:write"),
  request: { params: ProductIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

const adjustStockRoute = createRoute({
  method: "post",
  path: "/v1/products/{id}/stock",
  summary: "Change a product's stock and record why",
  description: "Stock never goes below zero: a change that would is a 409 naming the current stock.",
  tags,
  ...authed("products:write"),
  request: { params: ProductIdParam, ...jsonBody(AdjustStockBody) },
  responses: { 201: jsonResponse(StockAdjustment, "The movement and the product after it"), ...problemResponses },
});

const listStockMovementsRoute = createRoute({
  method: "get",
  path: "/v1/products/{id}/stock",
  summary: "A product's stock movements, newest first",
  tags,
  ...authed("products:read"),
  request: { params: ProductIdParam, query: StockMovementListQuery },
  responses: { 200: jsonResponse(StockMovementList, "A page of movements"), ...problemResponses },
});

// Category routes come first so that `/v1/products/categories` is never read as a product id.
export const productsRoutes = createRouter()
  .openapi(listCategoriesRoute, async (c) => c.json(await listCategories(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createCategoryRoute, async (c) => c.json(await createCategory(c.var.ctx, c.req.valid("json")), 201))
  .openapi(updateCategoryRoute, async (c) => c.json(await updateCategory(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(deleteCategoryRoute, async (c) => {
    await deleteCategory(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(listProductsRoute, async (c) => c.json(await listProducts(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createProductRoute, async (c) => c.json(await createProduct(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getProductRoute, async (c) => c.json(await getProduct(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateProductRoute, async (c) => c.json(await updateProduct(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(archiveProductRoute, async (c) => {
    await archiveProduct(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(adjustStockRoute, async (c) => {
    const body = c.req.valid("json");
    return c.json(await adjustStock(c.var.ctx, { productId: c.req.valid("param").id, ...body }), 201);
  })
  .openapi(listStockMovementsRoute, async (c) => c.json(await listStockMovements(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200));
