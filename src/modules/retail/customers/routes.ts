import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import {
  CreateCustomerBody,
  Customer,
  CustomerIdParam,
  CustomerLedgerPage,
  CustomerLedgerQuery,
  CustomerList,
  CustomerListQuery,
  UpdateCustomerBody,
} from "./schemas";
import { archiveCustomer, createCustomer, getCustomer, listCustomerLedger, listCustomers, updateCustomer } from "./service";

const tags = ["Customers"];

const listCustomersRoute = createRoute({
  method: "get",
  path: "/v1/customers",
  summary: "List customers, with their balances; search by name, phone or email, filter by tag",
  tags,
  ...authed("customers:read"),
  request: { query: CustomerListQuery },
  responses: { 200: jsonResponse(CustomerList, "A page of customers"), ...problemResponses },
});

const createCustomerRoute = createRoute({
  method: "post",
  path: "/v1/customers",
  summary: "Add a customer, optionally with an opening balance",
  description: "Amounts are integer minor units of the organisation's currency. `opening_balance` is written as the first ledger entry.",
  tags,
  ...authed("customers:write"),
  request: jsonBody(CreateCustomerBody),
  responses: { 201: jsonResponse(Customer, "The new customer"), ...problemResponses },
});

const getCustomerRoute = createRoute({
  method: "get",
  path: "/v1/customers/{id}",
  summary: "One customer and what they owe",
  tags,
  ...authed("customers:read"),
  request: { params: CustomerIdParam },
  responses: { 200: jsonResponse(Customer, "The customer"), ...problemResponses },
});

const updateCustomerRoute = createRoute({
  method: "patch",
  path: "/v1/customers/{id}",
  summary: "Change a customer's details or credit limit",
  description: "The balance cannot be edited: it is the sum of the ledger.",
  tags,
  ...authed("customers:write"),
  request: { params: CustomerIdParam, ...jsonBody(UpdateCustomerBody) },
  responses: { 200: jsonResponse(Customer, "The updated customer"), ...problemResponses },
});

const archiveCustomerRoute = createRoute({
  method: "delete",
  path: "/v1/customers/{id}",
  summary: "Archive a customer: hidden from the list, kept with its ledger",
  tags,
  ...authed("customers:write"),
  request: { params: CustomerIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

const customerLedgerRoute = createRoute({
  method: "get",
  path: "/v1/customers/{id}/ledger",
  summary: "A customer's ledger, newest first, with the running balance",
  tags,
  ...authed("customers:read"),
  request: { params: CustomerIdParam, query: CustomerLedgerQuery },
  responses: { 200: jsonResponse(CustomerLedgerPage, "A page of ledger entries"), ...problemResponses },
});

export const customersRoutes = createRouter()
  .openapi(listCustomersRoute, async (c) => c.json(await listCustomers(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createCustomerRoute, async (c) => c.json(await createCustomer(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getCustomerRoute, async (c) => c.json(await getCustomer(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateCustomerRoute, async (c) => c.json(await updateCustomer(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(archiveCustomerRoute, async (c) => {
    await archiveCustomer(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(customerLedgerRoute, async (c) => c.json(await listCustomerLedger(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200));
