// @ts-check
// The message box: Enter sends, Shift+Enter starts a new line, Esc (anywhere in the chat)
// stops; Send becomes Stop while an answer streams.

const FIELD_SIZING = typeof CSS !== "undefined" && CSS.supports("field-sizing", "content");

export class Composer {
  /**
   * @param {HTMLFormElement} form
   * @param {ParentNode & Node} root the chat's root: its keys are the chat's
   * @param {{send: (text: string) => void, stop: () => void, streaming: () => boolean}} actions
   */
  constructor(form, root, actions) {
    this.root = root;
    this.form = form;
    this.actions = actions;
    this.input = /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea"));
    this.sendButton = /** @type {HTMLButtonElement} */ (form.querySelector('[data-ink="send"]'));
    this.stopButton = /** @type {HTMLButtonElement} */ (form.querySelector('[data-ink="stop"]'));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.fit());
    this.stopButton.addEventListener("click", () => actions.stop());
    /** @param {Event} e */
    this.onKey = (e) => {
      if (e instanceof KeyboardEvent && e.key === "Escape" && actions.streaming()) {
        e.preventDefault();
        actions.stop();
      }
    };
    root.addEventListener("keydown", this.onKey);
  }

  dispose() {
    this.root.removeEventListener("keydown", this.onKey);
  }

  /** The server speaks another protocol: nothing can be sent until the page is reloaded. */
  disable() {
    this.input.disabled = true;
    this.sendButton.disabled = true;
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.actions.streaming()) return;
    this.input.value = "";
    this.fit();
    this.actions.send(text);
  }

  /** Grow the box with its text, up to a limit set in CSS. */
  fit() {
    // Where the browser sizes the box to its text itself (`field-sizing: content`), a key costs
    // no layout here: measuring it forced a layout of the whole page on every key, while an
    // answer streamed.
    if (FIELD_SIZING) return;
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  /** @param {boolean} streaming */
  setStreaming(streaming) {
    this.stopButton.hidden = !streaming;
    this.sendButton.hidden = streaming;
    const active = /** @type {Document | ShadowRoot} */ (this.form.getRootNode()).activeElement;
    if (!streaming && active === this.stopButton) this.input.focus();
  }
}
