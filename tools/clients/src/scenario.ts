// A citizen's first application, through the TypeScript client generated from
// openapi/openapi.json (openapi-typescript types, openapi-fetch calls): register, prove the
// e-mail and the phone with the codes the development mailbox received, log in, have the
// demo admin confirm the identity, start a draft, submit it, find it in the list and read
// its history. Run by scripts/clients.sh against a throw-away server; any surprise throws.

import { readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/schema.js";

type Schemas = components["schemas"];

const base = setting("KABINET_URL");
const mailbox = setting("KABINET_DEV_MAILBOX");
// The demo administrator (KABINET_DEMO=1; README "Demo accounts").
const admin = { login: "admin", password: "Demo-Admin-2026!" };
const api = createClient<paths>({ baseUrl: base });

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function step(what: string): void {
  console.log(`clients: ${what}`);
}

/** Throws with the server's answer unless the call succeeded. */
function ok<T>(what: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

/** A SNILS with valid check digits (the server checks them). */
function snils(): string {
  const digits = Array.from({ length: 9 }, () => randomInt(10));
  const sum = digits.reduce((total, digit, i) => total + digit * (9 - i), 0);
  const check = (sum % 101) % 100;
  const d = digits.join("");
  return `${d.slice(0, 3)}-${d.slice(3, 6)}-${d.slice(6, 9)} ${String(check).padStart(2, "0")}`;
}

/** The code of one mailbox line (JSON: channel, to, subject, body, code), if it went to `to`. */
function codeIn(line: string, to: string): string | undefined {
  const message: unknown = JSON.parse(line);
  if (
    typeof message === "object" &&
    message !== null &&
    "to" in message &&
    "code" in message &&
    message.to === to &&
    typeof message.code === "string"
  ) {
    return message.code;
  }
  return undefined;
}

/** The latest code the mailbox holds for `to`; the dispatcher delivers after the commit. */
async function codeFor(to: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(mailbox, "utf8");
    } catch {
      // Not written yet.
    }
    const codes = text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => codeIn(line, to))
      .filter((code): code is string => code !== undefined);
    const code = codes[codes.length - 1];
    if (code) return code;
    if (Date.now() > deadline) throw new Error(`no code for ${to} in ${mailbox} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function logIn(login: string, password: string): Promise<Schemas["TokenPair"]> {
  const answer = ok(
    `log in as ${login}`,
    await api.POST("/api/v1/auth/login", { body: { login, password } }),
  );
  if (answer.status !== "authenticated") {
    throw new Error(`log in as ${login}: a second factor is required`);
  }
  return answer;
}

function bearer(tokens: Schemas["TokenPair"]): { Authorization: string } {
  return { Authorization: `Bearer ${tokens.access_token}` };
}

async function main(): Promise<void> {
  const suffix = `${Date.now()}${randomInt(1000)}`;
  const email = `client-${suffix}@example.org`;
  const phone = `+7916${String(randomInt(10_000_000)).padStart(7, "0")}`;
  const password = `Fjord-Lantern-${randomInt(100, 1000)}`;

  const registration: Schemas["RegistrationRequest"] = {
    surname: "Клиентова",
    given_name: "Анна",
    birth_date: "1991-02-03",
    snils: snils(),
    phone,
    email,
    password,
    // With the passport the account starts at `standard`, which an admin may confirm.
    passport: {
      series: String(randomInt(1000, 10_000)),
      number: String(randomInt(100_000, 1_000_000)),
      issued_on: "2011-03-04",
      division_code: "770-001",
    },
  };
  const profile = ok(
    "register",
    await api.POST("/api/v1/accounts", { body: registration }),
  );
  step(`registered ${profile.id} (level ${profile.level})`);

  for (const [kind, to] of [["email", email], ["phone", phone]] as const) {
    const proof = await api.POST("/api/v1/accounts/{id}/contact-proofs", {
      params: { path: { id: profile.id } },
      body: { kind, code: await codeFor(to) },
    });
    if (proof.response.status !== 204) {
      throw new Error(`prove the ${kind}: ${proof.response.status} ${JSON.stringify(proof.error)}`);
    }
  }
  step("proved the e-mail and the phone with the mailbox's codes");

  await logIn(email, password);
  step("logged in with the e-mail");

  // Submitting needs a confirmed identity; an admin confirms it, and creates a service whose
  // form needs no uploaded papers.
  const staff = bearer(await logIn(admin.login, admin.password));
  const level = ok(
    "confirm the identity",
    await api.POST("/api/v1/accounts/{id}/confirm-identity", {
      params: { path: { id: profile.id } },
      headers: staff,
    }),
  );
  const service: Schemas["ServiceBody"] = {
    code: `client-check-${suffix}`,
    name_ru: "Проверка клиента",
    name_en: "Client check",
    level: "federal",
    agency_code: "mvd",
    form_schema: {
      type: "object",
      required: ["reason"],
      properties: { reason: { type: "string", minLength: 1 } },
    },
    required_documents: [],
    max_file_bytes: 1_048_576,
    processing_days: 5,
    editable_after_submit: false,
    cancellable_in_review: true,
    co_applicants_allowed: false,
    appeal_window_days: 30,
    restore_window_days: 30,
    fee_kopecks: 0,
  };
  ok("create the service", await api.POST("/api/v1/services", { body: service, headers: staff }));
  step(`the admin confirmed the identity (level ${level.level}) and created ${service.code}`);

  const citizen = bearer(await logIn(email, password));
  const created = await api.POST("/api/v1/applications", {
    body: { service_code: service.code, form_data: { reason: "generated client" } },
    headers: citizen,
  });
  const draft = ok("create the draft", created);
  if (draft.status !== "draft") {
    throw new Error(`create the draft: ${JSON.stringify(draft)}`);
  }
  const etag = created.response.headers.get("ETag");
  if (!etag) throw new Error("create the draft: no ETag");
  step(`created draft ${draft.id} (ETag ${etag})`);

  const submitted = ok(
    "submit",
    await api.POST("/api/v1/applications/{id}/submit", {
      params: { path: { id: draft.id }, header: { "If-Match": etag } },
      headers: citizen,
    }),
  );
  if (submitted.status !== "submitted" || !submitted.number) {
    throw new Error(`submit: ${JSON.stringify(submitted)}`);
  }
  step(`submitted as ${submitted.number}`);

  const page = ok(
    "list",
    await api.GET("/api/v1/applications", {
      params: { query: { status: "submitted", limit: 10 } },
      headers: citizen,
    }),
  );
  const listed: Schemas["ApplicationSummary"] | undefined = page.items.find(
    (item) => item.id === draft.id,
  );
  if (!listed) throw new Error(`list: ${draft.id} missing from ${JSON.stringify(page)}`);
  step(`listed (${page.items.length} submitted)`);

  const history = ok(
    "history",
    await api.GET("/api/v1/applications/{id}/history", {
      params: { path: { id: draft.id } },
      headers: citizen,
    }),
  );
  const events = history.items.map((entry) => `${entry.event}:${entry.to_status}`);
  if (!events.includes("submit:submitted")) {
    throw new Error(`history: no submission in ${JSON.stringify(history)}`);
  }
  step(`history: ${events.join(", ")}`);
}

main().then(
  () => step("the TypeScript scenario passed"),
  (error: unknown) => {
    console.error(`clients: the TypeScript scenario FAILED: ${String(error)}`);
    process.exitCode = 1;
  },
);
