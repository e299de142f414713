// @ts-check
// The navigator of a message with other versions (an answer regenerated, a question edited and
// sent again): "Previous version", "2 / 3", "Next version". Switching shows the branch through
// the chosen version (the server keeps every version: PUT /api/conversations/<id>/branch).

export class Versions {
  /**
   * @param {HTMLElement} nav the article's `[data-part="versions"]` element
   * @param {string} what what the buttons name, e.g. "answer 2"
   * @param {(id: string) => void} choose show the branch through this version
   */
  constructor(nav, what, choose) {
    this.nav = nav;
    /** @type {string[]} every version's id, oldest first */
    this.ids = [];
    /** @type {string | null} the one shown */
    this.current = null;
    this.label = /** @type {HTMLElement} */ (nav.querySelector('[data-part="version-label"]'));
    this.previous = /** @type {HTMLButtonElement} */ (nav.querySelector('[data-action="previous-version"]'));
    this.next = /** @type {HTMLButtonElement} */ (nav.querySelector('[data-action="next-version"]'));
    nav.setAttribute("aria-label", `Versions of ${what}`);
    this.previous.addEventListener("click", () => this.step(-1, choose));
    this.next.addEventListener("click", () => this.step(1, choose));
  }

  /** @param {number} by @param {(id: string) => void} choose */
  step(by, choose) {
    const at = this.current === null ? -1 : this.ids.indexOf(this.current);
    const id = this.ids[at + by];
    if (id) choose(id);
  }

  /**
   * Which versions there are, and which one is shown.
   * @param {string[]} ids @param {string | null} current
   */
  show(ids, current) {
    this.ids = ids;
    this.current = current;
    const at = current === null ? -1 : ids.indexOf(current);
    this.nav.hidden = ids.length < 2 || at < 0;
    if (this.nav.hidden) return;
    this.label.textContent = `${at + 1} / ${ids.length}`;
    this.previous.disabled = at === 0;
    this.next.disabled = at === ids.length - 1;
  }

  /** A new version was just made in place of `replaced` (the one shown): it is the last, and shown.
   * @param {string | null} replaced @param {string} made */
  added(replaced, made) {
    const ids = this.ids.length ? this.ids : replaced ? [replaced] : [];
    this.show(ids.includes(made) ? ids : [...ids, made], made);
  }
}
