// Copy buttons: a code block's code, or a whole answer's markdown. They work mid-stream.

/** @param {string} text */
async function writeClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** @param {HTMLElement} button */
function confirm(button) {
  const label = button.textContent;
  button.textContent = "Copied";
  button.dataset.copied = "true";
  setTimeout(() => {
    button.textContent = label;
    delete button.dataset.copied;
  }, 1200);
}

/**
 * @param {HTMLElement} transcript
 * @param {(article: Element) => string} rawText the markdown of an answer
 */
export function installCopy(transcript, rawText) {
  transcript.addEventListener("click", async (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    const codeButton = target.closest("[data-copy]");
    if (codeButton instanceof HTMLElement) {
      const code = codeButton.closest(".codeblock")?.querySelector("code");
      if (code && (await writeClipboard(code.textContent ?? ""))) confirm(codeButton);
      return;
    }
    const messageButton = target.closest('[data-action="copy-message"]');
    if (messageButton instanceof HTMLElement) {
      const article = messageButton.closest("article");
      if (article && (await writeClipboard(rawText(article)))) confirm(messageButton);
    }
  });
}
