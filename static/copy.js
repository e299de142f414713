// @ts-check
// Copy buttons: a code block's code, or a whole answer's markdown. They work mid-stream, and
// "Copied" is said by the chat's live region as well as shown.

/** @param {string} text @param {Element} near where a fallback textarea may go */
async function writeClipboard(text, near) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = near.ownerDocument.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    near.appendChild(area);
    area.select();
    const ok = near.ownerDocument.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** @param {HTMLElement} button */
function confirm(button) {
  if (button.dataset.copied) return;
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
 * @param {{say: (text: string) => void}} announcer
 * @param {(article: Element) => string} rawText the markdown of an answer
 * @returns {() => void} removes the handler
 */
export function installCopy(transcript, announcer, rawText) {
  /** @param {Event} event */
  const onClick = async (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const codeButton = target.closest("[data-copy]");
    if (codeButton instanceof HTMLElement) {
      const code = codeButton.closest(".codeblock")?.querySelector("code");
      if (code && (await writeClipboard(code.textContent ?? "", transcript))) {
        confirm(codeButton);
        announcer.say("Code copied.");
      }
      return;
    }
    const messageButton = target.closest('[data-action="copy-message"]');
    if (messageButton instanceof HTMLElement) {
      const article = messageButton.closest("article");
      if (article && (await writeClipboard(rawText(article), transcript))) {
        confirm(messageButton);
        announcer.say("Answer copied as markdown.");
      }
    }
  };
  transcript.addEventListener("click", onClick);
  return () => transcript.removeEventListener("click", onClick);
}
