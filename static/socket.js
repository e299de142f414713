// @ts-check
// The WebSocket to /ws: connects, reconnects with backoff, and resubscribes to turns that
// were still streaming, from the last sequence number each one saw, so nothing is lost.

/** @typedef {{type: string, turn?: string, seq?: number, [key: string]: any}} Frame */

/** The protocol version this page speaks (docs/protocol.md); the server's `hello` says its own. */
export const PROTOCOL = 3;

const FIRST_WAIT_MS = 500;
const MAX_WAIT_MS = 10_000;
const MIN_WAIT_MS = 100;

/**
 * How long to wait before reconnect attempt `attempt` (0 for the first): exponential, capped,
 * with full jitter, so a thousand pages that lost the same server do not all come back in the
 * same instant when it restarts.
 * @param {number} attempt @param {() => number} [random] uniform in [0, 1)
 * @returns {number} milliseconds
 */
export function reconnectDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(attempt, 16));
  return MIN_WAIT_MS + random() * (ceiling - MIN_WAIT_MS);
}

/** @typedef {"connecting" | "open" | "reconnecting" | "outdated"} SocketState */

export class Socket {
  /**
   * @param {string} url
   * @param {{onFrame: (frame: Frame) => void, onState: (state: SocketState) => void,
   *          resume: () => object[]}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    /** @type {string[]} */
    this.queue = [];
    this.closed = false;
  }

  connect() {
    this.handlers.onState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      /** @type {Frame} */
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "hello") {
        if (frame.protocol !== PROTOCOL) {
          // A server that speaks another version (it was updated under this page): its
          // operations would be misapplied. Stop here; a reload fetches the matching page.
          this.close();
          this.handlers.onState("outdated");
          return;
        }
        this.attempt = 0;
        this.handlers.onState("open");
        // Frames queued while down first (starts the user sent), then what picks up the rest.
        for (const text of this.queue.splice(0)) ws.send(text);
        for (const frame of this.handlers.resume()) ws.send(JSON.stringify(frame));
      }
      this.handlers.onFrame(frame);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      this.handlers.onState("reconnecting");
      const wait = reconnectDelay(this.attempt);
      this.attempt += 1;
      setTimeout(() => this.connect(), wait);
    });
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send now, or queue until connected. @param {object} frame @returns {boolean} sent now */
  send(frame) {
    const text = JSON.stringify(frame);
    if (this.open && this.ws) {
      this.ws.send(text);
      return true;
    }
    this.queue.push(text);
    return false;
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}
