// @ts-check
// The model picker: the upstream's /models list, the choice remembered across visits.

const KEY = "inkstream.model";

export class ModelPicker {
  /** @param {HTMLSelectElement} select @param {string} base where the server is ("": here) */
  constructor(select, base) {
    this.select = select;
    this.base = base;
    select.addEventListener("change", () => {
      try {
        localStorage.setItem(KEY, select.value);
      } catch {
        /* storage may be off; the choice then lasts for this page */
      }
    });
  }

  async load() {
    try {
      const response = await fetch(`${this.base}/api/models`, { headers: { accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) throw new Error(data?.error?.message ?? `HTTP ${response.status}`);
      let saved = null;
      try {
        saved = localStorage.getItem(KEY);
      } catch {
        saved = null;
      }
      this.select.replaceChildren(
        ...data.models.map((/** @type {string} */ id) => {
          const option = this.select.ownerDocument.createElement("option");
          option.value = id;
          option.textContent = data.demo ? `${id} (demo)` : id;
          return option;
        }),
      );
      this.select.value = saved && data.models.includes(saved) ? saved : data.default;
      this.select.disabled = false;
    } catch (error) {
      const option = this.select.ownerDocument.createElement("option");
      option.textContent = "models unavailable";
      this.select.replaceChildren(option);
      this.select.disabled = true;
      this.select.title = String(error);
    }
  }

  /** @returns {string | null} */
  value() {
    return this.select.disabled ? null : this.select.value || null;
  }
}
