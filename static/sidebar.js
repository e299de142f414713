// @ts-check
// The sidebar: "New chat", the owner's conversations (most recent first, the one on screen
// marked aria-current="page"), rename in place, delete after an in-page confirmation. On a
// narrow screen it is off-canvas behind a toggle button.

/** @typedef {import("./conversations.js").Conversation} Conversation */
/** @typedef {import("./conversations.js").Conversations} Conversations */

/**
 * @typedef {object} SidebarParts
 * @property {HTMLElement} nav the sidebar itself
 * @property {HTMLElement} list the `<ul>` of conversations
 * @property {HTMLElement} note a status line under the list
 * @property {HTMLButtonElement} newChat
 * @property {HTMLButtonElement} toggle the narrow screen's show/hide button
 * @property {HTMLElement} scrim what covers the chat while it is shown on a narrow screen
 * @property {HTMLDialogElement} confirm the delete confirmation
 */

/**
 * @typedef {object} SidebarActions
 * @property {(id: string) => void} open show a conversation (the link was clicked)
 * @property {() => void} newChat
 * @property {(conversation: Conversation) => void} renamed
 * @property {(id: string) => void} deleted
 * @property {(text: string) => void} say a line for screen readers
 * @property {boolean} navigate open conversations in this page (else links load their page)
 */

const UNTITLED = "Untitled conversation";

const PENCIL =
  '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false"><path d="M11.5 2.5l2 2L6 12H4v-2z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>';
const BIN =
  '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false"><path d="M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>';

/** @param {Conversation} c */
function titleOf(c) {
  return c.title?.trim() || UNTITLED;
}

export class Sidebar {
  /** @param {SidebarParts} parts @param {Conversations} api @param {SidebarActions} actions */
  constructor(parts, api, actions) {
    this.parts = parts;
    this.api = api;
    this.actions = actions;
    this.doc = parts.nav.ownerDocument;
    /** @type {string | null} */
    this.active = null;
    /** @type {Conversation[]} */
    this.items = [];
    this.loads = 0;
    /** @type {string | null} the conversation being renamed */
    this.renaming = null;

    parts.newChat.addEventListener("click", () => {
      this.show(false);
      actions.newChat();
    });
    parts.toggle.addEventListener("click", () => this.show(parts.toggle.getAttribute("aria-expanded") !== "true"));
    parts.scrim.addEventListener("click", () => this.show(false));
    parts.nav.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen()) {
        e.stopPropagation(); // Esc in the chat also stops an answer: not this one
        this.show(false, { focusToggle: true });
      }
    });
    parts.list.addEventListener("click", (e) => this.onClick(e));
    parts.confirm.addEventListener("keydown", (e) => {
      if (e.key === "Escape") e.stopPropagation();
    });
  }

  /** Shown as an overlay (a narrow screen, the toggle pressed). */
  isOpen() {
    return this.parts.toggle.getAttribute("aria-expanded") === "true";
  }

  /** Show or hide it on a narrow screen (on a wide one it is always there).
   * @param {boolean} open @param {{focusToggle?: boolean}} [options] */
  show(open, { focusToggle = false } = {}) {
    const { nav, toggle, scrim } = this.parts;
    const was = this.isOpen();
    toggle.setAttribute("aria-expanded", String(open));
    nav.dataset.open = String(open);
    scrim.hidden = !open;
    if (open && !was) {
      const target = /** @type {HTMLElement | null} */ (nav.querySelector('[aria-current="page"]')) ?? this.parts.newChat;
      // After the slide-in has made it visible (visibility flips on the first frame).
      requestAnimationFrame(() => target.focus());
    } else if (!open && was && focusToggle) {
      toggle.focus();
    }
  }

  /** @param {string | null} id */
  setActive(id) {
    this.active = id;
    for (const link of this.parts.list.querySelectorAll("a[data-id]")) {
      if (link.getAttribute("data-id") === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** Fetch the list again (a conversation was created, renamed, deleted or answered in). */
  async refresh() {
    const load = ++this.loads;
    try {
      const items = await this.api.list();
      if (load !== this.loads) return;
      this.items = items;
      this.render();
      this.setNote("");
    } catch (error) {
      if (load !== this.loads) return;
      this.setNote("Conversations are unavailable right now.");
    }
  }

  /** @param {string} text */
  setNote(text) {
    this.parts.note.textContent = text;
    this.parts.note.hidden = !text;
  }

  render() {
    const { list } = this.parts;
    const focused = /** @type {Document | ShadowRoot} */ (list.getRootNode()).activeElement;
    const refocus = focused && list.contains(focused) ? this.focusKey(focused) : null;
    list.replaceChildren(...this.items.map((c) => this.item(c)));
    if (!this.items.length) {
      const empty = this.doc.createElement("li");
      empty.className = "conv-empty";
      empty.textContent = "No conversations yet.";
      list.appendChild(empty);
    }
    if (refocus) /** @type {HTMLElement | null} */ (list.querySelector(refocus))?.focus();
  }

  /** A selector that finds `element` again after a re-render. @param {Element} element */
  focusKey(element) {
    const li = element.closest("li[data-id]");
    if (!li) return null;
    const id = CSS.escape(li.getAttribute("data-id") ?? "");
    const action = element.getAttribute("data-action");
    return action ? `li[data-id="${id}"] [data-action="${action}"]` : `li[data-id="${id}"] a`;
  }

  /** @param {Conversation} c */
  item(c) {
    const li = this.doc.createElement("li");
    li.className = "conv";
    li.dataset.id = c.id;
    const title = titleOf(c);
    if (this.renaming === c.id) {
      li.appendChild(this.renameForm(c));
      return li;
    }
    const link = this.doc.createElement("a");
    link.className = "conv-link";
    link.href = this.api.pageUrl(c.id);
    link.dataset.id = c.id;
    link.textContent = title;
    link.title = title;
    if (c.id === this.active) link.setAttribute("aria-current", "page");
    const actions = this.doc.createElement("span");
    actions.className = "conv-actions";
    actions.append(
      this.iconButton("rename", `Rename conversation “${title}”`, PENCIL),
      this.iconButton("delete", `Delete conversation “${title}”`, BIN),
    );
    li.append(link, actions);
    return li;
  }

  /** @param {string} action @param {string} label @param {string} svg */
  iconButton(action, label, svg) {
    const button = this.doc.createElement("button");
    button.type = "button";
    button.className = "icon-button";
    button.dataset.action = action;
    button.setAttribute("aria-label", label);
    button.title = label;
    button.innerHTML = svg;
    return button;
  }

  /** @param {Conversation} c */
  renameForm(c) {
    const form = this.doc.createElement("form");
    form.className = "rename";
    const label = this.doc.createElement("label");
    label.className = "visually-hidden";
    const input = this.doc.createElement("input");
    input.type = "text";
    input.name = "title";
    input.required = true;
    input.maxLength = 200;
    input.value = c.title ?? "";
    input.id = `rename-${c.id}`;
    label.htmlFor = input.id;
    label.textContent = "New title";
    const save = this.doc.createElement("button");
    save.type = "submit";
    save.className = "rename-save";
    save.textContent = "Save";
    const cancel = this.doc.createElement("button");
    cancel.type = "button";
    cancel.className = "rename-cancel";
    cancel.textContent = "Cancel";
    form.append(label, input, save, cancel);
    const done = () => {
      this.renaming = null;
      this.render();
      /** @type {HTMLElement | null} */ (
        this.parts.list.querySelector(`li[data-id="${CSS.escape(c.id)}"] [data-action="rename"]`)
      )?.focus();
    };
    cancel.addEventListener("click", done);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        done();
      }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      save.disabled = true;
      try {
        const renamed = await this.api.rename(c.id, title);
        this.items = this.items.map((item) => (item.id === c.id ? renamed : item));
        this.actions.renamed(renamed);
        this.actions.say(`Renamed to ${titleOf(renamed)}.`);
        done();
      } catch (error) {
        save.disabled = false;
        this.setNote(`Could not rename: ${error instanceof Error ? error.message : error}`);
      }
    });
    queueMicrotask(() => {
      input.focus();
      input.select();
    });
    return form;
  }

  /** @param {Event} e */
  onClick(e) {
    const target = e.target;
    if (!(target instanceof Element)) return;
    const li = target.closest("li[data-id]");
    const id = li?.getAttribute("data-id");
    if (!id) return;
    const link = target.closest("a[data-id]");
    if (link && e instanceof MouseEvent) {
      // A plain click opens it here; a modified one (new tab, new window) is the browser's.
      if (!this.actions.navigate || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      this.show(false);
      this.actions.open(id);
      return;
    }
    const action = target.closest("[data-action]")?.getAttribute("data-action");
    const conversation = this.items.find((c) => c.id === id);
    if (!conversation) return;
    if (action === "rename") {
      this.renaming = id;
      this.render();
    } else if (action === "delete") {
      this.confirmDelete(conversation, /** @type {HTMLElement} */ (target.closest("button")));
    }
  }

  /** Ask in a small dialog; delete on yes. @param {Conversation} c @param {HTMLElement} opener */
  confirmDelete(c, opener) {
    const dialog = this.parts.confirm;
    const body = /** @type {HTMLElement} */ (dialog.querySelector('[data-part="body"]'));
    body.textContent = `“${titleOf(c)}” and all its messages will be deleted. This cannot be undone.`;
    const yes = /** @type {HTMLButtonElement} */ (dialog.querySelector('[data-action="confirm"]'));
    const no = /** @type {HTMLButtonElement} */ (dialog.querySelector('[data-action="cancel"]'));
    const controller = new AbortController();
    const { signal } = controller;
    yes.addEventListener("click", () => dialog.close("delete"), { signal });
    no.addEventListener("click", () => dialog.close("cancel"), { signal });
    dialog.addEventListener(
      "close",
      async () => {
        controller.abort();
        if (dialog.returnValue !== "delete") {
          opener.focus();
          return;
        }
        try {
          await this.api.remove(c.id);
        } catch (error) {
          this.setNote(`Could not delete: ${error instanceof Error ? error.message : error}`);
          opener.focus();
          return;
        }
        const index = this.items.findIndex((item) => item.id === c.id);
        this.items = this.items.filter((item) => item.id !== c.id);
        this.render();
        this.actions.say(`Deleted ${titleOf(c)}.`);
        this.actions.deleted(c.id);
        // Focus where the deleted one was: the next conversation's link, else New chat.
        const links = this.parts.list.querySelectorAll("a[data-id]");
        const next = /** @type {HTMLElement | undefined} */ (links[Math.min(index, links.length - 1)]);
        (next ?? this.parts.newChat).focus();
      },
      { signal },
    );
    dialog.returnValue = "";
    dialog.showModal();
    no.focus();
  }
}
