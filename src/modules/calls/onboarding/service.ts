/**
 * One-step onboarding: an assistant, its knowledge documents and its phone number from one
 * request. Everything that can be checked without side effects is checked first, so a bad field,
 * file or number creates nothing. The number comes last because it talks to Twilio; when that
 * fails the assistant and documents are kept and the problem says so (`kept`), so the client can
 * retry the attach alone, or repeat the whole request with its Idempotency-Key.
 */
import type { ServiceCtx } from "../../../lib/context";
import { AppError } from "../../../lib/errors";
import { requestFingerprint } from "../../../lib/idempotency";
import type { Assistant, CreateAssistantInput } from "../../assistants/assistants/schemas";
import { assistantForKey, createAssistant, createAssistantOnce, getAssistantInOrg } from "../../assistants/assistants/service";
import { type CheckedFile, checkDocumentFiles, documentsBySha256, storeDocuments } from "../../assistants/knowledge/documents";
import type { DocumentView } from "../../assistants/knowledge/schemas";
import { assertCan } from "../../identity/auth/principal";
import type { AttachPhoneNumberInput, PhoneNumber } from "../numbers/schemas";
import { assertMayAttach, attachPhoneNumber } from "../numbers/service";

export interface OnboardInput {
  assistant: CreateAssistantInput;
  files: File[];
  /** `phone_number` to attach or `area_code` to buy in; none attaches no number. */
  number?: AttachPhoneNumberInput;
}

export interface Onboarded {
  assistant: Assistant;
  documents: DocumentView[];
  phone_number: PhoneNumber | null;
  message: string;
}

/** The attach's problem, with what onboarding kept so the client can retry the attach alone. */
function keptProblem(error: unknown, assistant: Assistant, documents: DocumentView[]): AppError {
  const kept = { assistant_id: assistant.id, document_ids: documents.map((d) => d.id) };
  const retry = `The assistant ${assistant.id} and its ${documents.length} documents were kept; attach a number with POST /v1/assistants/${assistant.id}/phone-numbers`;
  if (error instanceof AppError) {
    return new AppError(error.status, error.type, error.title, `${error.detail ?? error.title}. ${retry}`, error.errors, error.headers, {
      ...error.extensions,
      kept,
    });
  }
  return new AppError(502, "https://billx.dev/problems/bad-gateway", "Bad gateway", `The number could not be attached. ${retry}`, undefined, undefined, {
    kept,
  });
}

/**
 * Onboards an assistant. With an Idempotency-Key (`idempotencyKey`) a repeat of the same request
 * finishes what the first left undone and answers the whole (`replayed`): the same assistant, the
 * documents it was sent (storing any the first try did not), and the number it attached, or
 * attaches one now if that failed before. The key with a different request is a 409.
 */
export async function onboardAssistant(ctx: ServiceCtx, input: OnboardInput, idempotencyKey?: string): Promise<Onboarded & { replayed: boolean }> {
  assertCan(ctx, "assistants:write");
  const files = input.files.length > 0 ? await checkDocumentFiles(ctx, input.files) : [];
  const request = idempotencyKey
    ? {
        key: `onboard:${idempotencyKey}`,
        fingerprint: await requestFingerprint({ assistant: input.assistant, number: input.number ?? null, files: files.map((f) => f.sha256) }),
      }
    : undefined;
  const earlier = request ? await assistantForKey(ctx, request) : undefined;
  // A replay whose number is attached needs no place on the plan: it takes none.
  if (input.number && !earlier?.phone_numbers.length) await assertMayAttach(ctx, input.number);

  const { assistant, replayed } = earlier
    ? { assistant: earlier, replayed: true }
    : request
      ? await createAssistantOnce(ctx, input.assistant, request)
      : { assistant: await createAssistant(ctx, input.assistant), replayed: false };
  const documents = replayed ? await documentsOnce(ctx, assistant.id, files) : await storeDocuments(ctx, assistant.id, files);
  if (!input.number) {
    return {
      assistant,
      documents,
      phone_number: null,
      message: `No number attached: attach one with POST /v1/assistants/${assistant.id}/phone-numbers`,
      replayed,
    };
  }
  let number: PhoneNumber;
  try {
    // Keyed requests may race their own repeats: whichever attaches first, the others keep its number.
    number = await attachPhoneNumber(ctx, assistant.id, input.number, { unlessAttached: request !== undefined });
  } catch (error) {
    throw keptProblem(error, assistant, documents);
  }
  return {
    assistant: await getAssistantInOrg(ctx, assistant.id),
    documents,
    phone_number: number,
    message: `Forward calls to ${number.phone_number}`,
    replayed,
  };
}

/**
 * The documents of a replayed onboarding, in the order sent: those the first try stored (same
 * bytes), and any it did not, stored now.
 */
async function documentsOnce(ctx: ServiceCtx, assistantId: string, files: CheckedFile[]): Promise<DocumentView[]> {
  if (files.length === 0) return [];
  const stored = await documentsBySha256(
    ctx,
    assistantId,
    files.map((f) => f.sha256),
  );
  const added = await storeDocuments(
    ctx,
    assistantId,
    files.filter((file) => !stored.has(file.sha256)),
  );
  for (const document of added) stored.set(document.sha256, document);
  return files.flatMap((file) => stored.get(file.sha256) ?? []);
}
