// Acme CRM: a custom component for a small CRM's REST API, built on Ferry's SDK.
//
//   ferry components:publish --path examples/components/acme-crm.js
//   ferry components:test --path examples/components/acme-crm.js --action listContacts \
//     --inputs inputs.json --connection connection.json
//
// The API: GET /contacts?page=&pageSize= → { contacts, nextPage }, POST /contacts,
// POST /webhooks → { id }, DELETE /webhooks/{id}; every request carries `Authorization: Bearer`.

import {
  component, action, trigger, input, connection, util, ConnectionError, HttpResponseError,
} from "@ferry/sdk";

const apiKey = connection({
  key: "apiKey",
  display: { label: "Acme CRM API key", description: "The base URL of your CRM and an API key" },
  inputs: {
    baseUrl: { label: "Base URL", type: "string", required: true, example: "https://crm.example.com" },
    apiKey: { label: "API key", type: "password", required: true },
  },
});

const connectionInput = input({ label: "Connection", type: "connection", required: true });

/** Calls the CRM; a refused key is a ConnectionError, any other failure an HttpResponseError. */
async function crm(connection, path, options = {}) {
  const { baseUrl, apiKey } = connection.fields;
  const response = await fetch(`${util.types.toString(baseUrl).replace(/\/$/, "")}${path}`, {
    ...options,
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
  });
  if (response.status === 401) throw new ConnectionError(connection, "the CRM refused the API key");
  if (!response.ok) {
    throw new HttpResponseError(`the CRM answered ${response.status}: ${await response.text()}`, {
      status: response.status,
    });
  }
  return response.status === 204 ? null : response.json();
}

const email = input({
  label: "Email",
  type: "string",
  required: true,
  clean: (value) => {
    const text = util.types.toString(value).trim().toLowerCase();
    if (!/^[^@\s]+@[^@\s]+$/.test(text)) throw new Error(`${JSON.stringify(text)} is not an email address`);
    return text;
  },
});

const listContacts = action({
  display: { label: "List Contacts", description: "Lists every contact, following the pages" },
  inputs: {
    connection: connectionInput,
    pageSize: input({ label: "Page size", type: "string", default: "50", clean: (v) => util.types.toInt(v) }),
  },
  perform: async (context, { connection, pageSize }) => {
    const contacts = [];
    for (let page = 1; page; ) {
      const query = new URLSearchParams({ page: String(page), pageSize: String(pageSize) });
      const body = await crm(connection, `/contacts?${query}`);
      context.logger.info(`page ${page}: ${body.contacts.length} contacts`);
      contacts.push(...body.contacts);
      page = body.nextPage;
    }
    return { data: contacts };
  },
  examplePayload: { data: [{ id: "c-1", email: "ada@example.com", name: "Ada Lovelace" }] },
});

const createContact = action({
  display: { label: "Create Contact", description: "Creates a contact" },
  inputs: {
    connection: connectionInput,
    email,
    name: input({ label: "Name", type: "string", required: true }),
    tags: input({ label: "Tags", type: "string", collection: "keyvaluelist", required: false }),
  },
  perform: async (context, { connection, email, name, tags }) => {
    const body = JSON.stringify({ email, name, tags: util.types.keyValPairListToObject(tags) });
    const created = await crm(connection, "/contacts", { method: "POST", body });
    context.logger.info(`created contact ${created.id}`);
    return { data: created };
  },
  examplePayload: { data: { id: "c-9", email: "ada@example.com", name: "Ada Lovelace" } },
});

const contactEvents = trigger({
  display: { label: "Contact Events", description: "Receives the CRM's contact webhooks" },
  inputs: {
    connection: connectionInput,
    events: input({ label: "Events", type: "string", collection: "valuelist", default: ["contact.created"] }),
  },
  // The CRM posts { id, type, contact }: steps see the contact as the body, and the CRM gets
  // its receipt at once.
  perform: async (context, payload) => {
    const event = payload.body.data;
    return {
      payload: { ...payload, body: { data: event.contact, contentType: "application/json" }, event: event.type },
      response: { statusCode: 200, contentType: "application/json", body: JSON.stringify({ received: event.id }) },
    };
  },
  // On deploy, register this flow's URL with the CRM; on delete, remove it.
  onInstanceDeploy: async (context, { connection, events }) => {
    const url = context.webhookUrls[context.flow.name];
    const hook = await crm(connection, "/webhooks", { method: "POST", body: JSON.stringify({ url, events }) });
    return { crossFlowState: { [`${context.flow.name}-webhook`]: hook.id } };
  },
  onInstanceDelete: async (context, { connection }) => {
    const id = context.crossFlowState[`${context.flow.name}-webhook`];
    if (id) await crm(connection, `/webhooks/${id}`, { method: "DELETE" });
  },
  synchronousResponseSupport: "invalid",
  scheduleSupport: "invalid",
});

export default component({
  key: "acme-crm",
  display: { label: "Acme CRM", description: "Contacts in Acme CRM" },
  actions: { listContacts, createContact },
  triggers: { contactEvents },
  connections: [apiKey],
});
