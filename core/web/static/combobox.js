"use strict";
// The patient picker: a WAI-ARIA combobox (editable, list autocomplete) over /api/patients.
// ↓/↑ move through the options, Enter picks the highlighted one, Esc closes the list (a second
// Esc clears the text). A form marked data-needs-patient is not sent until a patient is picked.

function startCombobox(combo) {
  const input = combo.querySelector("[role=combobox]");
  const value = combo.querySelector(".combo-value");
  const list = combo.querySelector("[role=listbox]");
  const hint = combo.querySelector(".combo-hint");
  const form = combo.closest("form");
  const defaultHint = hint.textContent;
  let options = [];
  let active = -1;
  let timer = null;
  let asked = 0;

  function open(isOpen) {
    list.hidden = !isOpen;
    input.setAttribute("aria-expanded", String(isOpen));
    if (!isOpen) highlight(-1);
  }

  function highlight(index) {
    options.forEach((option, i) => {
      option.classList.toggle("on", i === index);
      option.setAttribute("aria-selected", String(i === index));
    });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(option) {
    value.value = option.dataset.id;
    input.value = option.dataset.label;
    combo.classList.add("chosen");
    hint.textContent = "Chosen: " + option.dataset.label;
    open(false);
  }

  function show(patients) {
    list.replaceChildren();
    options = patients.map((patient, i) => {
      const option = document.createElement("li");
      option.id = `${list.id}-${i}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.id = patient.id;
      option.dataset.label = `${patient.name} · MRN ${patient.mrn} · born ${patient.dob}`;
      option.textContent = option.dataset.label;
      // mousedown, not click: it comes before the input's blur closes the list.
      option.addEventListener("mousedown", (event) => { event.preventDefault(); choose(option); });
      list.appendChild(option);
      return option;
    });
    if (!options.length) {
      const none = document.createElement("li");
      none.className = "none";
      none.textContent = "No patient matches";
      list.appendChild(none);
    }
    hint.textContent = options.length ? `${options.length} match${options.length === 1 ? "" : "es"}; ↑ ↓ to choose, Enter to pick.` : "No patient matches.";
    open(true);
    highlight(-1);
  }

  async function lookup() {
    const query = input.value.trim();
    if (query.length < 2) { list.replaceChildren(); options = []; open(false); hint.textContent = defaultHint; return; }
    const ticket = ++asked;
    const url = combo.dataset.lookupUrl + "?q=" + encodeURIComponent(query);
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok || ticket !== asked) return;
    show((await response.json()).patients);
  }

  input.addEventListener("input", () => {
    value.value = "";
    combo.classList.remove("chosen");
    clearTimeout(timer);
    timer = setTimeout(lookup, 150);
  });

  input.addEventListener("keydown", (event) => {
    const isOpen = !list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!isOpen) { if (options.length) { open(true); highlight(0); } else lookup(); return; }
      if (!options.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + options.length) % options.length);
    } else if (event.key === "Enter") {
      if (isOpen && active >= 0) { event.preventDefault(); choose(options[active]); return; }
      if (isOpen || (!value.value && (form.hasAttribute("data-needs-patient") || input.value.trim()))) {
        event.preventDefault();
        hint.textContent = "Choose a patient from the list first (↓ then Enter).";
      }
    } else if (event.key === "Escape") {
      if (isOpen) { event.preventDefault(); open(false); }
      else if (input.value) { event.preventDefault(); input.value = ""; value.value = ""; combo.classList.remove("chosen"); hint.textContent = defaultHint; }
    }
  });

  input.addEventListener("blur", () => open(false));

  form.addEventListener("submit", (event) => {
    const typedWithoutChoosing = input.value.trim() && !value.value;
    if ((form.hasAttribute("data-needs-patient") && !value.value) || typedWithoutChoosing) {
      event.preventDefault();
      hint.textContent = "Choose a patient from the list first.";
      input.focus();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".combo").forEach(startCombobox);
});
