// @ts-check
// The owner's conversations over HTTP (/api/conversations): list, read, rename, delete. The
// owner cookie goes with every same-origin fetch; nothing here touches the DOM.

/** @typedef {{id: string, title: string, model: string | null, created_ms: number, updated_ms: number}} Conversation */
/**
 * A stored message, as in the page's boot JSON, `message` frames and the API. An older answer in
 * the page's boot JSON has neither `text` nor `html` but `html_later`: the API's copy of the
 * conversation has both.
 * @typedef {{id: string, parent: string | null, role: "user" | "assistant", text?: string,
 *   state: string, error?: {code?: string, message?: string, status?: number, retry_after?: number},
 *   usage?: {completion_tokens?: number}, finish_reason?: string | null, ttft_ms?: number,
 *   tokens_per_second?: number, duration_ms?: number, model?: string, turn?: string,
 *   created_ms: number, html?: string, html_later?: boolean, version?: number,
 *   original?: string, edited?: boolean, versions?: string[],
 *   tool_calls?: import("./steps.js").StoredCall[], reasoning?: {text?: string, ms?: number}}} StoredMessage
 */
/** @typedef {{conversation: Conversation, messages: StoredMessage[]}} Thread */

/** An answer of the API that is not a success: its `error.code` ("not_found", …) and message. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Conversations {
  /** @param {string} base where the server is ("": this page's origin) */
  constructor(base) {
    this.base = base;
  }

  /** The page's own URL of a conversation. @param {string} id */
  pageUrl(id) {
    return `${this.base}/c/${encodeURIComponent(id)}`;
  }

  /** @param {string} id @param {"md" | "json"} format */
  exportUrl(id, format) {
    return `${this.pageUrl(id)}.${format}`;
  }

  /** @returns {Promise<Conversation[]>} most recent first */
  async list() {
    const data = await this.request("GET", "/api/conversations");
    return data.conversations;
  }

  /** @param {string} id @returns {Promise<Thread>} */
  async get(id) {
    return this.request("GET", `/api/conversations/${encodeURIComponent(id)}`);
  }

  /** @param {string} id @param {string} title @returns {Promise<Conversation>} */
  async rename(id, title) {
    const data = await this.request("PATCH", `/api/conversations/${encodeURIComponent(id)}`, { title });
    return data.conversation;
  }

  /** Show the branch through `message` (one version of a message); the conversation as it is then.
   * @param {string} id @param {string} message @returns {Promise<Thread>} */
  async branch(id, message) {
    return this.request("PUT", `/api/conversations/${encodeURIComponent(id)}/branch`, { message });
  }

  /** @param {string} id */
  async remove(id) {
    await this.request("DELETE", `/api/conversations/${encodeURIComponent(id)}`);
  }

  /** @param {string} method @param {string} path @param {object} [body] @returns {Promise<any>} */
  async request(method, path, body) {
    /** @type {RequestInit} */
    const init = { method, headers: { accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers = { accept: "application/json", "content-type": "application/json" };
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${this.base}${path}`, init);
    } catch (error) {
      throw new ApiError(0, "network", "The server could not be reached.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data?.error ?? {};
      throw new ApiError(response.status, error.code ?? "http", error.message ?? `HTTP ${response.status}`);
    }
    return data;
  }
}
