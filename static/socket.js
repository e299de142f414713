// The WebSocket to /ws: connects, reconnects with backoff, and resubscribes to turns that
// were still streaming, from the last sequence number each one saw, so nothing is lost.

/** @typedef {{type: string, turn?: string, seq?: number, [key: string]: any}} Frame */

export class Socket {
  /**
   * @param {string} url
   * @param {{onFrame: (frame: Frame) => void, onState: (state: string) => void,
   *          resume: () => object[]}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.backoff = 250;
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
        this.backoff = 250;
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
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, 8000);
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
