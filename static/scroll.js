// @ts-check
// Follow the bottom while an answer streams, but only while the user has not scrolled away.
//
// Whether the user left is decided by what the user did (wheel, touch, keys, the scrollbar),
// never by pixel distance: content growing under a reader must not steal the page back.
// A "new content" pill brings them back; scrolling back down to the end re-attaches.

const AWAY_KEYS = new Set(["ArrowUp", "PageUp", "Home"]);

export class Scroller {
  /** @param {HTMLElement} box the scrolling transcript @param {HTMLElement} pill */
  constructor(box, pill) {
    this.box = box;
    this.pill = pill;
    this.following = true;
    // Until when a scroll counts as the user's: smooth wheel scrolling, dragging and touch
    // momentum keep firing scroll events after the input that started them.
    this.userUntil = 0;
    const away = () => {
      this.userUntil = performance.now() + 400;
    };
    box.addEventListener("wheel", (e) => {
      if (e.deltaY < 0) this.detach();
      away();
    }, { passive: true });
    box.addEventListener("touchmove", () => {
      this.detach();
      away();
    }, { passive: true });
    this.dragging = false;
    box.addEventListener("pointerdown", (e) => {
      // A press on the scrollbar (outside the content box) is a user scroll, until released.
      if (e.offsetX > box.clientWidth) {
        this.detach();
        this.dragging = true;
      }
    });
    // A drag may end outside the chat: the release is listened for on the whole document.
    this.onPointerUp = () => {
      if (this.dragging) away();
      this.dragging = false;
    };
    box.ownerDocument.addEventListener("pointerup", this.onPointerUp);
    box.addEventListener("keydown", (e) => {
      if (AWAY_KEYS.has(e.key)) this.detach();
      if (AWAY_KEYS.has(e.key) || e.key === "ArrowDown" || e.key === "PageDown" || e.key === "End") away();
    });
    box.addEventListener("scroll", () => {
      // Only a scroll the user made may re-attach, and only once it reaches the end.
      const user = this.dragging || performance.now() < this.userUntil;
      if (!this.following && user && this.atEnd()) this.attach();
    }, { passive: true });
    // Following the end is done where sizes are known: a ResizeObserver's callback runs after the
    // frame's layout and before its paint, so the new end shows in the same frame, with no layout
    // forced by reading the height mid-frame. It also sees what no update announces: a chunk
    // skipped off screen (content-visibility) measured at its placeholder height, then rendered
    // taller once scrolled into view.
    this.sizes = new ResizeObserver(() => {
      if (this.following) this.toEnd();
    });
    // The box itself too: a notice or a taller message box above or below it shrinks the view.
    this.sizes.observe(box);
    for (const child of box.children) this.sizes.observe(child);
    this.children = new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) if (node instanceof Element) this.sizes.observe(node);
        for (const node of change.removedNodes) if (node instanceof Element) this.sizes.unobserve(node);
      }
    });
    this.children.observe(box, { childList: true });
    pill.addEventListener("click", () => {
      this.attach();
      this.toEnd();
      this.box.focus({ preventScroll: true });
    });
  }

  atEnd() {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 2;
  }

  /** Remove the listener outside the chat (the chat is unmounted). */
  dispose() {
    this.box.ownerDocument.removeEventListener("pointerup", this.onPointerUp);
    this.sizes.disconnect();
    this.children.disconnect();
  }

  detach() {
    if (this.following) this.following = false;
  }

  attach() {
    this.following = true;
    this.pill.hidden = true;
  }

  toEnd() {
    this.box.scrollTop = this.box.scrollHeight;
  }

  /** Content grew: follow it, or tell the user there is more below. */
  grew() {
    if (!this.following) {
      if (!this.atEnd()) this.pill.hidden = false;
      return;
    }
    // Growth is followed by the ResizeObserver above, in the frame that lays it out. Scrolling in
    // the next animation frame instead cost a second full frame (layout, paint, commit) for
    // every update.
  }
}
