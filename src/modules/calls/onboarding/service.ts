/**
 * One-step onboarding: an assistant, its knowledge documents and its phone number from one
 * request. Everything that can be checked without side effects is checked first, so a bad field,
 * file or number creates nothing. The number comes last because it talks to Twilio; when that
 * fails the assistant and documents are kept and the problem says so (`kept`), so the client can
 * retry the attach alone rather than onboard twice.
 */
import type { ServiceCtx } from "../../../lib/context";
import { AppError, Unprocessable, UnsupportedMediaType } from "../../../lib/errors";
import type { Assistant, CreateAssistantInput } from "../../assistants/assistants/schemas";
import { createAssistant, getAssistantInOrg } from "../../assistants/assistants/service";
import { MAX_FILES_PER_UPLOAD, uploadDocuments } from "../../assistants/knowledge/documents";
import type { DocumentView } from "../../assistants/knowledge/schemas";
import { sniffKind } from "../../assistants/knowledge/sniff";
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

/**
 * The upload's own checks (count, empty, size, kind), made before the assistant exists; the
 * upload repeats them, so these only decide earlier, never differently.
 */
async function assertFilesAccepted(ctx: ServiceCtx, files: File[]): Promise<void> {
  if (files.length > MAX_FILES_PER_UPLOAD) throw new Unprocessable([{ path: "files", message: `at most ${MAX_FILES_PER_UPLOAD} files per upload` }]);
  const maxBytes = ctx.config.knowledge.maxFileBytes;
  const unsupported: { path: string; message: string }[] = [];
  for (const [index, file] of files.entries()) {
    const path = `files[${index}]`;
    if (file.size === 0) throw new Unprocessable([{ path, message: "the file is empty" }]);
    if (file.size > maxBytes) throw new Unprocessable([{ path, message: `the file is ${file.size} bytes; at most ${maxBytes} are accepted` }]);
    if (!sniffKind(new Uint8Array(await file.arrayBuffer()), file.name)) {
      unsupported.push({ path, message: `${file.name} is not a PDF, plain text, Markdown or HTML file` });
    }
  }
  if (unsupported.length > 0) throw new UnsupportedMediaType(unsupported, "Knowledge documents are PDF, plain text, Markdown or HTML");
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

export async function onboardAssistant(ctx: ServiceCtx, input: OnboardInput): Promise<Onboarded> {
  assertCan(ctx, "assistants:write");
  await assertFilesAccepted(ctx, input.files);
  if (input.number) await assertMayAttach(ctx, input.number);

  const created = await createAssistant(ctx, input.assistant);
  const documents = input.files.length > 0 ? await uploadDocuments(ctx, created.id, input.files) : [];
  if (!input.number) {
    return {
      assistant: created,
      documents,
      phone_number: null,
      message: `No number attached: attach one with POST /v1/assistants/${created.id}/phone-numbers`,
    };
  }
  let number: PhoneNumber;
  try {
    number = await attachPhoneNumber(ctx, created.id, input.number);
  } catch (error) {
    throw keptProblem(error, created, documents);
  }
  return {
    assistant: await getAssistantInOrg(ctx, created.id),
    documents,
    phone_number: number,
    message: `Forward calls to ${number.phone_number}`,
  };
}
