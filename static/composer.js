// The message box: Enter sends, Shift+Enter starts a new line, Esc stops; Send becomes Stop
// while an answer streams.

export class Composer {
  /**
   * @param {HTMLFormElement} form
   * @param {{send: (text: string) => void, stop: () => void, streaming: () => boolean}} actions
   */
  constructor(form, actions) {
    this.form = form;
    this.actions = actions;
    this.input = /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea"));
    this.sendButton = /** @type {HTMLButtonElement} */ (form.querySelector("#send"));
    this.stopButton = /** @type {HTMLButtonElement} */ (form.querySelector("#stop"));
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
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && actions.streaming()) {
        e.preventDefault();
        actions.stop();
      }
    });
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
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  /** @param {boolean} streaming */
  setStreaming(streaming) {
    this.stopButton.hidden = !streaming;
    this.sendButton.hidden = streaming;
    if (!streaming && document.activeElement === this.stopButton) this.input.focus();
  }
}
